#!/usr/bin/env python3
"""The memory figures of docs/performance.md ("What the security limits cost"): starts one
natter binary per scenario on a fresh data directory, drives it over real HTTP (a registration
burst, four avatar bombs at once, a login flood with huge usernames) and reads its VmRSS.
Standard library only. Usage: scripts/limits-memory.py target/release/natter"""
import json, os, struct, subprocess, sys, tempfile, threading, time, urllib.request, zlib
from concurrent.futures import ThreadPoolExecutor

def png_bomb(side=8192):
    path = os.path.join(tempfile.gettempdir(), f"natter-bomb{side}.png")
    if os.path.exists(path):
        return open(path, "rb").read()
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    z = zlib.compressobj(9)
    row = b"\0" * (1 + side * 8)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)) \
        + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    open(path, "wb").write(png)
    return png

def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0

def call(url, method, path, body=None, token=None, raw=None, xff=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token: req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except Exception as e:
        return -1, str(e).encode()

def start(binary):
    d = tempfile.mkdtemp()
    env = dict(os.environ, NATTER_DATA_DIR=d, NATTER_BIND="127.0.0.1:0", NATTER_LOG="natter=info",
               NATTER_REGISTER_PER_ADDRESS_PER_HOUR="0", NATTER_MAX_CONNECTIONS_PER_ADDRESS="0")
    p = subprocess.Popen([binary, "serve"], cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        if "open http://" in line:
            url = line[line.index("open http://") + 5:].strip()
            break
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, url

def register(url, name):
    s, b = call(url, "POST", "/api/v1/auth/register", {"username": name, "password": "correct horse battery"})
    assert s == 201, (s, b)
    return json.loads(b)["token"]

def settle(pid, secs=5):
    time.sleep(secs)
    return rss(pid)

binary = os.path.abspath(sys.argv[1])
# 1. registration burst
p, url = start(binary)
register(url, "warmup"); idle = settle(p.pid, 2)
peak = idle
with ThreadPoolExecutor(10) as ex:
    for r in range(10):
        list(ex.map(lambda i: register(url, f"b{r}x{i}"), range(10)))
        peak = max(peak, rss(p.pid))
after = settle(p.pid, 10)
print(f"registrations: 100 at 10 parallel: idle {idle:.1f} MiB, peak {peak:.1f}, 10 s after {after:.1f}")
p.kill(); p.wait()
# 2. avatar bombs
p, url = start(binary)
tokens = [register(url, f"bomber{i}") for i in range(4)]
bomb = png_bomb()
before = settle(p.pid, 2)
t0 = time.time()
peak = before
stop = False
def watch():
    global peak
    while not stop:
        peak = max(peak, rss(p.pid)); time.sleep(0.05)
w = threading.Thread(target=watch); w.start()
with ThreadPoolExecutor(4) as ex:
    statuses = list(ex.map(lambda t: call(url, "PUT", "/api/v1/me/avatar", token=t, raw=bomb)[0], tokens))
took = time.time() - t0
stop = True; w.join()
after = settle(p.pid, 5)
print(f"avatar bombs ({len(bomb)//1024} KiB, 8192x8192 RGBA16) x4 at once: statuses {statuses} in {took:.1f} s; RSS {before:.1f} -> peak {peak:.1f}, 5 s after {after:.1f} MiB")
p.kill(); p.wait()
# 3. login flood
p, url = start(binary)
for i in range(20):
    call(url, "POST", "/api/v1/auth/login", {"username": f"nobody{i}", "password": "not the password"})
before = settle(p.pid, 2)
codes = {}
with ThreadPoolExecutor(10) as ex:
    for s in ex.map(lambda i: call(url, "POST", "/api/v1/auth/login", {"username": f"{i}-" + "x" * 60000, "password": "not the password"})[0], range(2000)):
        codes[s] = codes.get(s, 0) + 1
after = settle(p.pid, 3)
print(f"login flood: 2,000 logins with 60,000-character names after 20 failures: {codes}; RSS {before:.1f} -> {after:.1f} MiB (+{(after-before)*1024/2000:.1f} KiB per request)")
p.kill(); p.wait()
