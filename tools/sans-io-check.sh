#!/usr/bin/env bash
# The sans-IO core must not read a clock, open files or sockets, spawn threads or ask the OS for
# randomness. Fails (exit 1) with the offending lines.
set -u
cd "$(dirname "$0")/.."
core="src/time.rs src/rng.rs src/wire src/stack src/tcp src/link"
hits=$(grep -rnE 'std::time::(Instant|SystemTime)|Instant::now|SystemTime|std::fs|std::thread|thread::spawn|std::net::(TcpStream|UdpSocket|TcpListener)|libc::|thread_rng|getrandom' $core 2>/dev/null | grep -v '^\S*:\s*//')
if [ -n "$hits" ]; then
    echo "sans-io-check: the core touches the OS:"; echo "$hits"; exit 1
fi
echo "sans-io-check: ok (no clock, fd, thread or OS randomness in the core)"
