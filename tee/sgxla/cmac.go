package sgxla

import (
	"crypto/aes"
	"crypto/subtle"
	"fmt"
)

// CMAC returns the AES-CMAC (RFC 4493) of msg under key (16, 24 or 32
// bytes; SGX uses AES-128).
func CMAC(key, msg []byte) ([16]byte, error) {
	var mac [16]byte
	c, err := aes.NewCipher(key)
	if err != nil {
		return mac, fmt.Errorf("AES-CMAC key: %w", err)
	}
	// Subkeys (RFC 4493 section 2.3).
	var l, k1, k2 [16]byte
	c.Encrypt(l[:], l[:])
	double(&k1, &l)
	double(&k2, &k1)

	n := (len(msg) + 15) / 16
	complete := n > 0 && len(msg)%16 == 0
	if n == 0 {
		n = 1
	}
	var last [16]byte
	if complete {
		subtle.XORBytes(last[:], msg[(n-1)*16:], k1[:])
	} else {
		rest := msg[(n-1)*16:]
		copy(last[:], rest)
		last[len(rest)] = 0x80
		subtle.XORBytes(last[:], last[:], k2[:])
	}
	var x [16]byte
	for i := 0; i < n-1; i++ {
		subtle.XORBytes(x[:], x[:], msg[i*16:(i+1)*16])
		c.Encrypt(x[:], x[:])
	}
	subtle.XORBytes(x[:], x[:], last[:])
	c.Encrypt(mac[:], x[:])
	return mac, nil
}

// double sets dst to in shifted left by one bit in GF(2^128), with the
// constant Rb = 0x87.
func double(dst, in *[16]byte) {
	carry := in[0] >> 7
	for i := 0; i < 15; i++ {
		dst[i] = in[i]<<1 | in[i+1]>>7
	}
	dst[15] = in[15] << 1
	dst[15] ^= 0x87 & -carry
}
