"""A moto server for one test process: prints its port, stops when stdin closes (the test
process ended), so no server outlives the tests."""
import socket
import sys

from moto.server import ThreadedMotoServer

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
print(port, flush=True)
sys.stdin.read()
server.stop()
