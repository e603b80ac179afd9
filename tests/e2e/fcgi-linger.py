#!/usr/bin/env python3
# fcgi-linger.py BIN CONF STRACE_OUT SIG TS NONCE BODYFILE [RUNAS...]: start BIN
# as a FastCGI responder on a TCP socket under strace (shutdown calls), send
# it one whole signed request, then one whose body stops short of its
# CONTENT_LENGTH (read_timeout expires), then the whole one again (so the
# second's close is over), print the three statuses, and stop the responder.
import os, signal, socket, struct, subprocess, sys

binary, conf, out, sig, ts, nonce, bodyfile = sys.argv[1:8]
runas = sys.argv[8:]
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(4)
p = subprocess.Popen(['strace', '-f', '-qq', '-o', out, '-e', 'trace=shutdown'] + runas +
                     [binary, '-c', conf], stdin=ls.fileno(), stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)


def rec(kind, content):
    return struct.pack('>BBHHBx', 1, kind, 1, len(content), 0) + content


def nv(name, value):
    return bytes([len(name)]) + (bytes([len(value)]) if len(value) < 128
                                 else struct.pack('>I', len(value) | 0x80000000)) + name + value


def request(params, body, whole):
    c = socket.create_connection(ls.getsockname(), timeout=30)
    data = rec(1, struct.pack('>HB5x', 1, 0))
    data += rec(4, b''.join(nv(k.encode(), v.encode()) for k, v in params.items())) + rec(4, b'')
    data += rec(5, body) + (rec(5, b'') if whole else b'')
    c.sendall(data)
    got, out_ = b'', b''
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        got += chunk
        while len(got) >= 8:
            _, kind, _, n, pad = struct.unpack('>BBHHB', got[:7])
            if len(got) < 8 + n + pad:
                break
            if kind == 6:
                out_ += got[8:8 + n]
            got = got[8 + n + pad:]
            if kind == 3:
                c.close()
                return out_.split(b'\r\n', 1)[0].decode()
    c.close()
    return 'no answer'


body = open(bodyfile, 'rb').read()
whole = {'REQUEST_METHOD': 'POST', 'CONTENT_LENGTH': str(len(body)),
         'HTTP_X_LARK_SIGNATURE': sig, 'HTTP_X_LARK_REQUEST_TIMESTAMP': ts,
         'HTTP_X_LARK_REQUEST_NONCE': nonce}
try:
    print(request(whole, body, True), flush=True)
    print(request({'REQUEST_METHOD': 'POST', 'CONTENT_LENGTH': '100'}, b'{"encrypt":', False), flush=True)
    print(request(whole, body, True), flush=True)
finally:
    # the responder is strace's child: stop it, and strace ends with it
    with open('/proc/%d/task/%d/children' % (p.pid, p.pid)) as f:
        for pid in f.read().split():
            os.kill(int(pid), signal.SIGTERM)
    p.wait(timeout=30)
