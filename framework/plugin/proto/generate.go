// Package pluginpb holds the protobuf messages and gRPC services spoken
// between a Rats-TLS host and its subprocess plugins (protobuf package
// ratstls.plugin.v1), one service per instance kind. The generated code is
// committed, so building needs only Go. To regenerate it after editing a
// .proto file, install protoc (apt-get install protobuf-compiler) and the Go
// generators (go install google.golang.org/protobuf/cmd/protoc-gen-go@latest
// and google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest), put
// $(go env GOPATH)/bin on PATH, and run go generate.
package pluginpb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative common.proto attester.proto verifier.proto crypto.proto tls.proto
