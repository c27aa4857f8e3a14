// Integration tests run the real binary against real sockets on loopback.
import Testing
