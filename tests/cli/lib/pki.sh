# Sourced by end-to-end tests (not a test itself): a throwaway PKI in the current directory made
# with the openssl CLI (the caller skips when it is absent). `make_ca NAME` writes NAME.pem and
# NAME.key; `make_cert NAME CA CN [SAN]` a certificate NAME.pem/NAME.key signed by CA, with the
# subjectAltName SAN when given (none otherwise). Keys are written 0600, as a real key would be.
# `make_test_pki` makes the usual set: a CA `ca`, a server certificate `server` for localhost
# and 127.0.0.1, and a client certificate `client`.
make_ca() {  # NAME
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 1 \
    -subj "/CN=logpipe test $1" 2>/dev/null
  chmod 600 "$1.key"
}
make_cert() {  # NAME CA CN [SAN]
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  if [ -n "${4:-}" ]; then printf 'subjectAltName=%s\n' "$4" >"$1.ext"; else : >"$1.ext"; fi
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" \
    -days 1 -extfile "$1.ext" 2>/dev/null
  chmod 600 "$1.key"
}
make_test_pki() {
  make_ca ca
  make_cert server ca localhost "DNS:localhost,IP:127.0.0.1"
  make_cert client ca client
}
