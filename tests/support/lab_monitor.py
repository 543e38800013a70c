"""
What the lab's network sees, ten times a second, from the host inside the
lab's namespace (run it with `lab/ns exec`): which MAC addresses answer ARP
for the VIP (one when all is well, two in a split brain) and which servers
accept connections on the NFS port (nfsd listens on all of a server's
addresses, so its own address tells whether nfsd runs there).

    python lab_monitor.py VIP SERVER_ADDRESS...

Prints one JSON line per sample: {"t": unix time, "vip": [mac, ...],
"nfsd": [address, ...]} until it is terminated. One clock (the host's)
times every sample, whatever the VMs' clocks say.
"""
import ipaddress
import json
import select
import socket
import struct
import subprocess
import sys
import time

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
NFS_PORT = 2049
PERIOD = 0.1
# A TCP connection to a live nfsd takes a millisecond here; a server that
# is down or cut off never answers.
CONNECT_TIMEOUT = 0.08
ARP_WAIT = 0.05


def interface_towards(address):
    """(name, MAC, IPv4 address) of the local interface on ``address``'s network."""
    wanted = ipaddress.ip_address(address)
    shown = json.loads(subprocess.run(["ip", "-j", "-4", "address", "show"], capture_output=True,
                                      text=True, check=True).stdout)
    for link in shown:
        for info in link.get("addr_info", []):
            if wanted in ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}").network:
                with open(f"/sys/class/net/{link['ifname']}/address") as fh:
                    mac = bytes.fromhex(fh.read().strip().replace(":", ""))
                return link["ifname"], mac, info["local"]
    raise SystemExit(f"lab_monitor: no interface on the network of {address}")


def arp_request(mac, local, target):
    arp = struct.pack(
        "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(local), b"\0" * 6, socket.inet_aton(target)
    )
    return BROADCAST + mac + struct.pack("!H", ETH_P_ARP) + arp


def who_has(sock, request, target):
    """The MAC addresses that answer ARP for ``target`` within ARP_WAIT."""
    sock.send(request)
    found, deadline = set(), time.monotonic() + ARP_WAIT
    wanted = socket.inet_aton(target)
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([sock], [], [], left)[0]:
            break
        frame = sock.recv(128)
        if len(frame) >= 42 and frame[12:14] == b"\x08\x06":
            op, sender, sender_ip = struct.unpack("!H6s4s", frame[20:32])
            if op == 2 and sender_ip == wanted:
                found.add(sender.hex(":"))
    return sorted(found)


def nfsd_up(address):
    try:
        with socket.create_connection((address, NFS_PORT), timeout=CONNECT_TIMEOUT):
            return True
    except OSError:
        return False


def main(vip, servers):
    name, mac, local = interface_towards(vip)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind((name, ETH_P_ARP))
    request = arp_request(mac, local, vip)
    while True:
        started = time.monotonic()
        sample = {"t": round(time.time(), 3), "vip": who_has(sock, request, vip),
                  "nfsd": [s for s in servers if nfsd_up(s)]}
        print(json.dumps(sample), flush=True)
        time.sleep(max(0.0, PERIOD - (time.monotonic() - started)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
