"""PROXY protocol v1/v2 for the chaos harness: valid headers (with TLVs and CRC32C) built from a
seeded random source, their broken variants (truncated, oversized, mutated), and a parser for the
headers Sluice sends, so a recording target can say what it received."""
import ipaddress
import struct

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_MAX = 107

# Spec section 2.2 TLV types used here.
TLV_ALPN, TLV_AUTHORITY, TLV_CRC32C, TLV_NOOP, TLV_UNIQUE_ID = 0x01, 0x02, 0x03, 0x04, 0x05
TLV_SSL, TLV_SSL_VERSION, TLV_SSL_CN, TLV_NETNS = 0x20, 0x21, 0x22, 0x30


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    """CRC32C (Castagnoli), as PROXY v2's PP2_TYPE_CRC32C."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class Header:
    """A header to send and what Sluice should make of it: `source`/`destination` are
    (ip text, port) when the header carries a TCP client to honour, None when Sluice must keep the
    real addresses (LOCAL, UNKNOWN, UDP, UNIX, UNSPEC)."""

    def __init__(self, data, version, source=None, destination=None, kind=""):
        self.data = data
        self.version = version
        self.source = source
        self.destination = destination
        self.kind = kind

    def __repr__(self):
        return f"Header(v{self.version} {self.kind} {len(self.data)}B src={self.source} dst={self.destination})"


def random_ipv4(rng):
    return str(ipaddress.IPv4Address(rng.getrandbits(32)))


def random_ipv6(rng):
    return ipaddress.IPv6Address(rng.getrandbits(128)).compressed


def v1(rng):
    """A valid v1 line: TCP4 or TCP6 with random addresses, or UNKNOWN (with or without fields)."""
    pick = rng.random()
    if pick < 0.1:
        if rng.random() < 0.5:
            return Header(b"PROXY UNKNOWN\r\n", 1, kind="v1-unknown")
        tail = f" {random_ipv6(rng)} {random_ipv6(rng)} {rng.randrange(65536)} {rng.randrange(65536)}"
        return Header(b"PROXY UNKNOWN" + tail.encode() + b"\r\n", 1, kind="v1-unknown-fields")
    six = pick < 0.45
    src = random_ipv6(rng) if six else random_ipv4(rng)
    dst = random_ipv6(rng) if six else random_ipv4(rng)
    sport, dport = rng.randrange(65536), rng.randrange(65536)
    line = f"PROXY {'TCP6' if six else 'TCP4'} {src} {dst} {sport} {dport}\r\n".encode()
    return Header(line, 1, (src, sport), (dst, dport), kind="v1-tcp6" if six else "v1-tcp4")


def _tlv(kind, value):
    return struct.pack("!BH", kind, len(value)) + value


def random_tlvs(rng, budget):
    """Valid TLVs (ALPN, AUTHORITY, NOOP, UNIQUE_ID, SSL with sub-TLVs, NETNS, unknown types),
    together at most `budget` bytes."""
    out = b""
    for _ in range(rng.randrange(0, 6)):
        which = rng.randrange(7)
        if which == 0:
            tlv = _tlv(TLV_ALPN, rng.choice([b"h2", b"http/1.1", b"\x00" * rng.randrange(0, 40)]))
        elif which == 1:
            tlv = _tlv(TLV_AUTHORITY, bytes(rng.choice(b"abcdefghij.-") for _ in range(rng.randrange(1, 255))))
        elif which == 2:
            tlv = _tlv(TLV_NOOP, bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))))
        elif which == 3:
            tlv = _tlv(TLV_UNIQUE_ID, rng.randbytes(rng.randrange(0, 129)))
        elif which == 4:
            subs = _tlv(TLV_SSL_VERSION, b"TLSv1.3") + _tlv(TLV_SSL_CN, b"client.example")
            tlv = _tlv(TLV_SSL, bytes([rng.randrange(8)]) + struct.pack("!I", rng.randrange(2)) + subs)
        elif which == 5:
            tlv = _tlv(TLV_NETNS, b"ns-" + str(rng.randrange(1000)).encode())
        else:
            tlv = _tlv(rng.choice([0xE1, 0xF0, 0x7F, 0x31]), rng.randbytes(rng.randrange(0, 64)))
        if len(out) + len(tlv) > budget:
            break
        out += tlv
    return out


def v2(rng, max_length=4096, big_tlv=0):
    """A valid v2 header: PROXY TCP4/TCP6 (sometimes with IPv4-mapped addresses), or one whose
    addresses Sluice must ignore (LOCAL, UDP, UNIX, UNSPEC); random TLVs, a CRC32C half the time,
    `big_tlv` bytes of NOOP padding on top, all within `max_length` (the receiver's cap on len)."""
    pick = rng.random()
    command = 0x21
    source = destination = None
    if pick < 0.35:
        family, kind = 0x11, "v2-tcp4"
        src, dst = random_ipv4(rng), random_ipv4(rng)
        sport, dport = rng.randrange(65536), rng.randrange(65536)
        block = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed + struct.pack("!HH", sport, dport)
        source, destination = (src, sport), (dst, dport)
    elif pick < 0.7:
        family, kind = 0x21, "v2-tcp6"
        mapped = rng.random() < 0.2
        src = f"::ffff:{random_ipv4(rng)}" if mapped else random_ipv6(rng)
        dst = f"::ffff:{random_ipv4(rng)}" if mapped and rng.random() < 0.5 else random_ipv6(rng)
        sport, dport = rng.randrange(65536), rng.randrange(65536)
        block = ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + struct.pack("!HH", sport, dport)
        source, destination = (src, sport), (dst, dport)
    elif pick < 0.8:
        command, family, kind = 0x20, rng.choice([0x00, 0x11, 0x21]), "v2-local"
        block = rng.randbytes({0x00: 0, 0x11: 12, 0x21: 36}[family])
    elif pick < 0.88:
        family, kind = rng.choice([0x12, 0x22]), "v2-udp"
        block = rng.randbytes(12 if family == 0x12 else 36)
    elif pick < 0.94:
        family, kind = 0x31, "v2-unix"
        block = b"/run/a.sock".ljust(108, b"\x00") + b"/run/b.sock".ljust(108, b"\x00")
    else:
        family, kind = 0x00, "v2-unspec"
        block = b""
    room = max(0, max_length - len(block) - 7)
    tlvs = random_tlvs(rng, min(room, 2000))
    if big_tlv:
        pad = min(big_tlv, max(0, max_length - len(block) - len(tlvs) - 7 - 3))
        tlvs += _tlv(TLV_NOOP, bytes(pad))
    with_crc = rng.random() < 0.5 and len(block) + len(tlvs) + 7 <= max_length
    body = block + tlvs + (_tlv(TLV_CRC32C, b"\x00\x00\x00\x00") if with_crc else b"")
    data = V2_SIGNATURE + bytes([command, family]) + struct.pack("!H", len(body)) + body
    if with_crc:
        crc = crc32c(data)
        data = data[:-4] + struct.pack("!I", crc)
    return Header(data, 2, source, destination, kind=kind + ("+crc" if with_crc else ""))


def valid(rng, max_length=4096):
    return v1(rng) if rng.random() < 0.4 else v2(rng, max_length)


def undecided_prefix(rng, header):
    """A strict prefix of `header` after which the receiver must still wait for more bytes: for v1,
    any prefix before the CR; for v2, any prefix of the 16 + len bytes."""
    data = header.data
    limit = len(data) - 2 if header.version == 1 else len(data) - 1
    return data[: rng.randrange(1, max(2, limit + 1))]


def oversized_v2(rng, declared=0xFFFF, sent=65520):
    """A v2 header claiming `declared` bytes of addresses and TLVs, of which `sent` follow (random
    bytes after a TCP4 address block): the receiver must never buffer past its cap."""
    block = ipaddress.IPv4Address(random_ipv4(rng)).packed * 2 + struct.pack("!HH", 1, 2)
    rest = block + rng.randbytes(max(0, sent - len(block)))
    return V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", declared) + rest[:sent]


def mutate(rng, data):
    """`data` with 1-4 random edits: flipped bits, replaced bytes, a deleted or inserted byte."""
    out = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        if not out:
            break
        i = rng.randrange(len(out))
        op = rng.randrange(4)
        if op == 0:
            out[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[i] = rng.randrange(256)
        elif op == 2:
            del out[i]
        else:
            out.insert(i, rng.choice(b" \r\n0:.PFf\x00\xff"))
    return bytes(out)


def garbage(rng):
    """Bytes that look a little like a header: a PROXY or v2 signature prefix and noise."""
    starts = [b"P", b"PROXY", b"PROXY TCP4 ", b"\r", b"\r\n\r\n", V2_SIGNATURE[:11], V2_SIGNATURE, b"GET / HTTP/1.1\r\n", b""]
    return rng.choice(starts) + rng.randbytes(rng.randrange(0, 200))


def parse(data):
    """Parses the header at the start of `data` (what Sluice sent a target). Returns
    (dict, consumed), (None, 0) when more bytes are needed, or raises ValueError."""
    if data.startswith(V2_SIGNATURE):
        if len(data) < 16:
            return None, 0
        ver_cmd, fam, length = data[12], data[13], struct.unpack("!H", data[14:16])[0]
        if len(data) < 16 + length:
            return None, 0
        body = data[16 : 16 + length]
        if ver_cmd != 0x21:
            raise ValueError(f"v2 ver_cmd {ver_cmd:#x}")
        if fam == 0x11 and length >= 12:
            src, dst = str(ipaddress.IPv4Address(body[0:4])), str(ipaddress.IPv4Address(body[4:8]))
            sport, dport = struct.unpack("!HH", body[8:12])
            rest = body[12:]
        elif fam == 0x21 and length >= 36:
            src, dst = ipaddress.IPv6Address(body[0:16]).compressed, ipaddress.IPv6Address(body[16:32]).compressed
            sport, dport = struct.unpack("!HH", body[32:36])
            rest = body[36:]
        else:
            raise ValueError(f"v2 family {fam:#x} len {length}")
        return {"version": 2, "family": "TCP4" if fam == 0x11 else "TCP6", "source": [src, sport],
                "destination": [dst, dport], "tlvBytes": len(rest)}, 16 + length
    if data.startswith(b"PROXY "):
        end = data.find(b"\r\n")
        if end < 0:
            if len(data) >= V1_MAX:
                raise ValueError("v1 line too long")
            return None, 0
        fields = data[6:end].decode("ascii", "replace").split(" ")
        if len(fields) != 5 or fields[0] not in ("TCP4", "TCP6"):
            raise ValueError(f"v1 line {data[:end]!r}")
        return {"version": 1, "family": fields[0], "source": [fields[1], int(fields[3])],
                "destination": [fields[2], int(fields[4])]}, end + 2
    if V2_SIGNATURE.startswith(data[:12]) or b"PROXY ".startswith(data[:6]):
        return None, 0
    raise ValueError(f"no PROXY header: {data[:16]!r}")


def normalize(ip):
    """An address as Sluice reports it: IPv4-mapped IPv6 becomes IPv4; text in canonical form."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return address.compressed


def expected_sent(source, destination):
    """The family and (ip, port) pairs Sluice must send for this original client and destination:
    both unmapped; IPv4 when both are IPv4, else IPv6 with any IPv4 side mapped."""
    src, dst = normalize(source[0]), normalize(destination[0])
    four = ":" not in src and ":" not in dst
    if not four:
        src = src if ":" in src else ipaddress.IPv6Address("::ffff:" + src).compressed
        dst = dst if ":" in dst else ipaddress.IPv6Address("::ffff:" + dst).compressed
    return ("TCP4" if four else "TCP6"), (src, source[1]), (dst, destination[1])
