#!/usr/bin/env python3
"""Capture Kafka protocol frames between real clients and a real broker.

Python standard library only. Three subcommands:

  proxy   a TCP proxy (listen -> upstream) that forwards bytes unchanged and,
          on the side, splits both directions into Kafka frames (4-byte
          big-endian size prefix), pairs each response with its request by
          correlation id, and writes every pair to
          RAW/<client>/<api_name>-v<version>-<n>.req.bin / .resp.bin
          (the bytes after the size prefix) plus one line per pair in
          RAW/<client>/index.jsonl. Stops on SIGTERM/SIGINT or after
          --max-seconds.
  select  picks the representative set from RAW into the vectors folder
          (first pair of each (api, version) per client; for Produce the
          first pair of each (version, codec); for Fetch and JoinGroup the
          pair with the largest response) and writes manifest.json. Clients
          not selected this time keep their files and manifest entries.
  check   decodes every request header in the vectors folder, checks it
          against the file name and manifest.json, and checks each response
          carries the same correlation id.

See README.md beside this file for how capture.sh drives it.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import struct
import sys
import threading
import time

# api_key -> (name, first flexible version or None), from the request JSON
# specs inside kafka-clients-4.4.0.jar (common/message/*Request.json).
APIS = {
    0: ("Produce", 9),
    1: ("Fetch", 12),
    2: ("ListOffsets", 6),
    3: ("Metadata", 9),
    4: ("LeaderAndIsr", None),
    5: ("StopReplica", None),
    6: ("UpdateMetadata", None),
    7: ("ControlledShutdown", None),
    8: ("OffsetCommit", 8),
    9: ("OffsetFetch", 6),
    10: ("FindCoordinator", 3),
    11: ("JoinGroup", 6),
    12: ("Heartbeat", 4),
    13: ("LeaveGroup", 4),
    14: ("SyncGroup", 4),
    15: ("DescribeGroups", 5),
    16: ("ListGroups", 3),
    17: ("SaslHandshake", None),
    18: ("ApiVersions", 3),
    19: ("CreateTopics", 5),
    20: ("DeleteTopics", 4),
    21: ("DeleteRecords", 2),
    22: ("InitProducerId", 2),
    23: ("OffsetForLeaderEpoch", 4),
    24: ("AddPartitionsToTxn", 3),
    25: ("AddOffsetsToTxn", 3),
    26: ("EndTxn", 3),
    27: ("WriteTxnMarkers", 1),
    28: ("TxnOffsetCommit", 3),
    29: ("DescribeAcls", 2),
    30: ("CreateAcls", 2),
    31: ("DeleteAcls", 2),
    32: ("DescribeConfigs", 4),
    33: ("AlterConfigs", 2),
    34: ("AlterReplicaLogDirs", 2),
    35: ("DescribeLogDirs", 2),
    36: ("SaslAuthenticate", 2),
    37: ("CreatePartitions", 2),
    38: ("CreateDelegationToken", 2),
    39: ("RenewDelegationToken", 2),
    40: ("ExpireDelegationToken", 2),
    41: ("DescribeDelegationToken", 2),
    42: ("DeleteGroups", 2),
    43: ("ElectLeaders", 2),
    44: ("IncrementalAlterConfigs", 1),
    45: ("AlterPartitionReassignments", 0),
    46: ("ListPartitionReassignments", 0),
    47: ("OffsetDelete", None),
    48: ("DescribeClientQuotas", 1),
    49: ("AlterClientQuotas", 1),
    50: ("DescribeUserScramCredentials", 0),
    51: ("AlterUserScramCredentials", 0),
    52: ("Vote", 0),
    53: ("BeginQuorumEpoch", 1),
    54: ("EndQuorumEpoch", 1),
    55: ("DescribeQuorum", 0),
    56: ("AlterPartition", 0),
    57: ("UpdateFeatures", 0),
    58: ("Envelope", 0),
    59: ("FetchSnapshot", 0),
    60: ("DescribeCluster", 0),
    61: ("DescribeProducers", 0),
    62: ("BrokerRegistration", 0),
    63: ("BrokerHeartbeat", 0),
    64: ("UnregisterBroker", 0),
    65: ("DescribeTransactions", 0),
    66: ("ListTransactions", 0),
    67: ("AllocateProducerIds", 0),
    68: ("ConsumerGroupHeartbeat", 0),
    69: ("ConsumerGroupDescribe", 0),
    70: ("ControllerRegistration", 0),
    71: ("GetTelemetrySubscriptions", 0),
    72: ("PushTelemetry", 0),
    73: ("AssignReplicasToDirs", 0),
    74: ("ListConfigResources", 0),
    75: ("DescribeTopicPartitions", 0),
    76: ("ShareGroupHeartbeat", 0),
    77: ("ShareGroupDescribe", 0),
    78: ("ShareFetch", 0),
    79: ("ShareAcknowledge", 0),
    80: ("AddRaftVoter", 0),
    81: ("RemoveRaftVoter", 0),
    82: ("UpdateRaftVoter", 0),
    83: ("InitializeShareGroupState", 0),
    84: ("ReadShareGroupState", 0),
    85: ("WriteShareGroupState", 0),
    86: ("DeleteShareGroupState", 0),
    87: ("ReadShareGroupStateSummary", 0),
    88: ("StreamsGroupHeartbeat", 0),
    89: ("StreamsGroupDescribe", 0),
    90: ("DescribeShareGroupOffsets", 0),
    91: ("AlterShareGroupOffsets", 0),
    92: ("DeleteShareGroupOffsets", 0),
    93: ("StreamsGroupTopologyDescriptionUpdate", 0),
    94: ("UnregisterController", 0),
}
API_KEYS = {name: key for key, (name, _) in APIS.items()}

# For these the first exchange is often the least telling one (an empty
# Fetch; JoinGroup's MEMBER_ID_REQUIRED round), so select keeps the pair with
# the largest response instead: the Fetch carrying the records, the JoinGroup
# that hands the leader the member list.
LARGEST_RESPONSE = {1, 11}

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
CODEC_IDS = {name: i for i, name in CODECS.items()}
MAX_FRAME = 64 * 1024 * 1024


def api_name(key):
    return APIS.get(key, ("Unknown%d" % key, None))[0]


def is_flexible(key, version):
    first = APIS.get(key, (None, None))[1]
    return first is not None and version >= first


def request_header_version(key, version):
    # v2 adds tagged fields to v1 (api_key, api_version, correlation_id,
    # client_id as a plain nullable string even in flexible versions).
    return 2 if is_flexible(key, version) else 1


def response_header_version(key, version):
    # ApiVersions responses keep header v0 so that a client can always read
    # them, whatever version it asked for.
    if key == API_KEYS["ApiVersions"]:
        return 0
    return 1 if is_flexible(key, version) else 0


class Reader:
    """Cursor over bytes; raises ValueError past the end."""

    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("truncated at %d (+%d of %d)" % (self.pos, n, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        shift = result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 35:
                raise ValueError("uvarint too long")

    def nullable_string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def compact_nullable_string(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode("utf-8", "replace")

    def tagged_fields(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def parse_request_header(frame):
    """Returns a dict with api_key, api_version, correlation_id, client_id,
    header_version and body_offset."""
    r = Reader(frame)
    key, version, corr = r.i16(), r.i16(), r.i32()
    hv = request_header_version(key, version)
    client_id = r.nullable_string()
    if hv >= 2:
        r.tagged_fields()
    return {
        "api_key": key,
        "api_version": version,
        "correlation_id": corr,
        "client_id": client_id,
        "header_version": hv,
        "body_offset": r.pos,
    }


def produce_codecs(frame, hdr):
    """Compression codec of each record batch in a Produce request."""
    r = Reader(frame, hdr["body_offset"])
    v = hdr["api_version"]
    flex = is_flexible(0, v)
    if flex:
        r.compact_nullable_string()  # transactional_id
    else:
        r.nullable_string()
    r.i16()  # acks
    r.i32()  # timeout_ms
    codecs = []
    n_topics = r.uvarint() - 1 if flex else r.i32()
    for _ in range(max(n_topics, 0)):
        if v >= 13:
            r.take(16)  # topic_id
        elif flex:
            r.compact_nullable_string()
        else:
            r.nullable_string()
        n_parts = r.uvarint() - 1 if flex else r.i32()
        for _ in range(max(n_parts, 0)):
            r.i32()  # partition index
            size = r.uvarint() - 1 if flex else r.i32()
            records = r.take(size) if size > 0 else b""
            codecs.extend(batch_codecs(records))
            if flex:
                r.tagged_fields()
        if flex:
            r.tagged_fields()
    return codecs


def batch_codecs(records):
    out = []
    r = Reader(records)
    while r.pos + 17 <= len(records):
        start = r.pos
        r.i64()  # base_offset
        length = r.i32()
        r.i32()  # partition_leader_epoch
        magic = r.i8()
        if magic != 2:
            out.append("magic%d" % magic)
            break
        r.take(4)  # crc
        attributes = r.i16()
        out.append(CODECS.get(attributes & 7, "codec%d" % (attributes & 7)))
        r.pos = start + 12 + length
    return out


# ---------------------------------------------------------------- proxy


class Capture:
    def __init__(self, out_dir, client):
        self.dir = os.path.join(out_dir, client)
        os.makedirs(self.dir, exist_ok=True)
        self.client = client
        self.lock = threading.Lock()
        self.counters = {}
        self.seq = 0
        self.index = open(os.path.join(self.dir, "index.jsonl"), "a", buffering=1)

    def write_pair(self, conn_id, req_hdr, req, resp):
        key, version = req_hdr["api_key"], req_hdr["api_version"]
        name = api_name(key)
        entry = {
            "conn": conn_id,
            "correlation_id": req_hdr["correlation_id"],
            "client_id": req_hdr["client_id"],
            "api_key": key,
            "api_name": name,
            "api_version": version,
            "request_header_version": req_hdr["header_version"],
            "response_header_version": response_header_version(key, version),
            "req_len": len(req),
            "resp_len": len(resp) if resp is not None else None,
        }
        if key == 0:
            try:
                entry["codecs"] = produce_codecs(req, req_hdr)
            except ValueError as e:
                entry["codecs_error"] = str(e)
        with self.lock:
            n = self.counters.get((key, version), 0)
            self.counters[(key, version)] = n + 1
            self.seq += 1
            base = "%s-v%d-%d" % (name, version, n)
            entry.update(seq=self.seq, n=n, req_file=base + ".req.bin")
            with open(os.path.join(self.dir, base + ".req.bin"), "wb") as f:
                f.write(req)
            if resp is not None:
                entry["resp_file"] = base + ".resp.bin"
                with open(os.path.join(self.dir, base + ".resp.bin"), "wb") as f:
                    f.write(resp)
            self.index.write(json.dumps(entry) + "\n")


class Framer:
    """Splits a byte stream into Kafka frames (size prefix dropped)."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        frames = []
        while len(self.buf) >= 4:
            size = struct.unpack(">i", self.buf[:4])[0]
            if size < 0 or size > MAX_FRAME:
                raise ValueError("bad frame size %d" % size)
            if len(self.buf) < 4 + size:
                break
            frames.append(bytes(self.buf[4:4 + size]))
            del self.buf[:4 + size]
        return frames


class Connection:
    def __init__(self, conn_id, client_sock, upstream, capture, log):
        self.id = conn_id
        self.client = client_sock
        self.server = socket.create_connection(upstream, timeout=10)
        self.server.settimeout(None)
        self.capture = capture
        self.log = log
        self.pending = {}  # correlation_id -> (header, frame)
        self.lock = threading.Lock()

    def start(self):
        for src, dst, fn in ((self.client, self.server, self.on_request),
                             (self.server, self.client, self.on_response)):
            threading.Thread(target=self.pump, args=(src, dst, fn), daemon=True).start()

    def pump(self, src, dst, on_frame):
        framer = Framer()
        parsing = True
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                # Record complete frames before forwarding their last bytes,
                # so a response can never arrive before its request is known.
                if parsing:
                    try:
                        for frame in framer.feed(data):
                            on_frame(frame)
                    except ValueError as e:
                        self.log("conn %d: stop parsing: %s" % (self.id, e))
                        parsing = False
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.flush_unanswered()

    def on_request(self, frame):
        hdr = parse_request_header(frame)
        with self.lock:
            self.pending[hdr["correlation_id"]] = (hdr, frame)

    def on_response(self, frame):
        corr = struct.unpack(">i", frame[:4])[0]
        with self.lock:
            item = self.pending.pop(corr, None)
        if item is None:
            self.log("conn %d: response with unknown correlation id %d" % (self.id, corr))
            return
        self.capture.write_pair(self.id, item[0], item[1], frame)

    def flush_unanswered(self):
        with self.lock:
            items, self.pending = list(self.pending.values()), {}
        for hdr, frame in items:
            # acks=0 produce, or a request cut off by the close.
            self.capture.write_pair(self.id, hdr, frame, None)


def hostport(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def cmd_proxy(args):
    def log(msg):
        print("capture-proxy[%s]: %s" % (args.client, msg), file=sys.stderr, flush=True)

    capture = Capture(args.out, args.client)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(hostport(args.listen))
    lsock.listen(64)
    lsock.settimeout(0.25)
    log("listening on %s -> %s, writing %s" % (args.listen, args.upstream, capture.dir))
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write(str(os.getpid()))

    deadline = time.monotonic() + args.max_seconds
    conns = []
    conn_id = 0
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            sock, _ = lsock.accept()
        except socket.timeout:
            continue
        except OSError:
            break
        conn_id += 1
        try:
            c = Connection(conn_id, sock, hostport(args.upstream), capture, log)
        except OSError as e:
            log("upstream connect failed: %s" % e)
            sock.close()
            continue
        conns.append(c)
        c.start()
    if not stop.is_set():
        log("max-seconds reached")
    lsock.close()
    for c in conns:
        for s in (c.client, c.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    time.sleep(0.3)  # let the pumps record what they had
    log("%d connections, %d pairs" % (conn_id, capture.seq))
    return 0


# ---------------------------------------------------------------- select


def load_index(client_dir):
    entries = []
    with open(os.path.join(client_dir, "index.jsonl")) as f:
        for line in f:
            if line.strip():
                entries.append(json.loads(line))
    entries.sort(key=lambda e: e["seq"])
    return entries


def cmd_select(args):
    with open(args.clients) as f:
        clients = json.load(f)  # [{client, client_version, library, codecs}]
    only = set(args.apis.split(",")) if args.apis else None
    names = {c["client"] for c in clients}
    kept = []
    old_manifest = os.path.join(args.out, "manifest.json")
    if os.path.exists(old_manifest):
        with open(old_manifest) as f:
            kept = [v for v in json.load(f)["vectors"] if v["client"] not in names]
    manifest = {
        "kafka_version": args.kafka_version,
        "note": "Frames without the 4-byte size prefix. Record timestamps, "
                "producer ids, member ids and the like differ between captures.",
        "vectors": [],
    }
    total = 0
    for c in clients:
        name = c["client"]
        src = os.path.join(args.raw, name)
        dst = os.path.join(args.out, name)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        os.makedirs(dst)
        chosen = {}
        for e in load_index(src):
            if e.get("resp_file") is None:
                continue
            if only and e["api_name"] not in only:
                continue
            if e["api_key"] == 0:
                codecs = e.get("codecs") or []
                if len(set(codecs)) != 1:
                    continue
                k = (e["api_key"], e["api_version"], codecs[0])
            else:
                k = (e["api_key"], e["api_version"], None)
            if k not in chosen:
                chosen[k] = e
            elif e["api_key"] in LARGEST_RESPONSE and e["resp_len"] > chosen[k]["resp_len"]:
                chosen[k] = e
        for k in sorted(chosen, key=lambda k: chosen[k]["seq"]):
            e = chosen[k]
            for direction, fname in (("request", e["req_file"]), ("response", e["resp_file"])):
                shutil.copyfile(os.path.join(src, fname), os.path.join(dst, fname))
                total += os.path.getsize(os.path.join(dst, fname))
                v = {
                    "file": "%s/%s" % (name, fname),
                    "client": name,
                    "client_version": c["client_version"],
                    "library": c.get("library"),
                    "api_key": e["api_key"],
                    "api_name": e["api_name"],
                    "api_version": e["api_version"],
                    "direction": direction,
                    "header_version": e["request_header_version"] if direction == "request"
                    else e["response_header_version"],
                    "correlation_id": e["correlation_id"],
                    "client_id": e["client_id"],
                    "size": os.path.getsize(os.path.join(dst, fname)),
                }
                if e["api_key"] == 0:
                    v["compression"] = k[2]
                manifest["vectors"].append(v)
        missing = [cd for cd in c.get("codecs", [])
                   if not any(k[0] == 0 and k[2] == cd for k in chosen)]
        if missing:
            print("select: %s: no Produce captured for %s" % (name, ", ".join(missing)), file=sys.stderr)
    manifest["vectors"] = kept + manifest["vectors"]
    manifest["vectors"].sort(key=lambda v: (v["client"], v["api_key"], v["api_version"],
                                            CODEC_IDS.get(v.get("compression"), -1), v["file"], v["direction"]))
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("select: wrote %d files (%d bytes); manifest.json lists %d" % (
        len(manifest["vectors"]) - len(kept), total, len(manifest["vectors"])))
    return 0


# ---------------------------------------------------------------- check


def cmd_check(args):
    with open(os.path.join(args.dir, "manifest.json")) as f:
        manifest = json.load(f)
    by_file = {v["file"]: v for v in manifest["vectors"]}
    errors = []
    pairs = 0
    on_disk = set()
    for root, _, files in os.walk(args.dir):
        for fn in files:
            if fn.endswith(".bin"):
                on_disk.add(os.path.relpath(os.path.join(root, fn), args.dir))
    for f in sorted(on_disk - set(by_file)):
        errors.append("%s: not in manifest.json" % f)
    for f in sorted(set(by_file) - on_disk):
        errors.append("%s: in manifest.json, missing on disk" % f)
    for path, v in sorted(by_file.items()):
        if v["direction"] != "request" or path not in on_disk:
            continue
        with open(os.path.join(args.dir, path), "rb") as f:
            req = f.read()
        try:
            hdr = parse_request_header(req)
        except ValueError as e:
            errors.append("%s: header does not decode: %s" % (path, e))
            continue
        base = os.path.basename(path)[:-len(".req.bin")]
        want = "%s-v%d-" % (api_name(hdr["api_key"]), hdr["api_version"])
        if not base.startswith(want):
            errors.append("%s: header says %s" % (path, want))
        for field in ("api_key", "api_version", "correlation_id", "client_id"):
            if hdr[field] != v[field]:
                errors.append("%s: %s %r, manifest %r" % (path, field, hdr[field], v[field]))
        if hdr["api_key"] == 0:
            try:
                codecs = produce_codecs(req, hdr)
            except ValueError as e:
                errors.append("%s: produce body does not decode: %s" % (path, e))
                codecs = []
            if codecs and set(codecs) != {v.get("compression")}:
                errors.append("%s: batches %s, manifest %s" % (path, codecs, v.get("compression")))
        resp_path = path[:-len(".req.bin")] + ".resp.bin"
        if resp_path not in on_disk:
            errors.append("%s: no response" % path)
            continue
        with open(os.path.join(args.dir, resp_path), "rb") as f:
            resp = f.read()
        corr = struct.unpack(">i", resp[:4])[0] if len(resp) >= 4 else None
        if corr != hdr["correlation_id"]:
            errors.append("%s: correlation id %r, request %d" % (resp_path, corr, hdr["correlation_id"]))
        pairs += 1
        if args.verbose:
            print("%-10s %-22s v%-2d corr=%-4d client_id=%s%s" % (
                v["client"], api_name(hdr["api_key"]), hdr["api_version"], hdr["correlation_id"],
                hdr["client_id"], " codec=" + v["compression"] if "compression" in v else ""))
    for e in errors:
        print("check: " + e, file=sys.stderr)
    print("check: %d request/response pairs, %d files, %d errors" % (pairs, len(on_disk), len(errors)))
    return 1 if errors else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    pp = sub.add_parser("proxy")
    pp.add_argument("--listen", default="127.0.0.1:19194")
    pp.add_argument("--upstream", default="127.0.0.1:19192")
    pp.add_argument("--client", required=True, help="folder name for this client's frames")
    pp.add_argument("--out", required=True, help="raw capture folder")
    pp.add_argument("--max-seconds", type=float, default=300)
    pp.add_argument("--ready-file", help="written once listening")

    ps = sub.add_parser("select")
    ps.add_argument("--raw", required=True)
    ps.add_argument("--out", required=True)
    ps.add_argument("--clients", required=True, help="JSON list: client, client_version, library, codecs")
    ps.add_argument("--kafka-version", required=True)
    ps.add_argument("--apis", help="comma-separated API names to keep (default: all)")

    pc = sub.add_parser("check")
    pc.add_argument("--dir", default=os.path.dirname(os.path.abspath(__file__)))
    pc.add_argument("-v", "--verbose", action="store_true")

    args = p.parse_args()
    return {"proxy": cmd_proxy, "select": cmd_select, "check": cmd_check}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
