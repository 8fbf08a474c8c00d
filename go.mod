module github.com/inclavare/inclavare

go 1.26.8
