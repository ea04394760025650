#!/usr/bin/env python3
"""Walks one order through haat end to end against a running api + worker:
places an order for the bottom member of the demo network, sends signed
`paid` and `delivered` webhooks (Standard Webhooks), waits for the
commissions and prints every upline's wallet.

Uses only the Python standard library. Settings come from the same
environment variables as the servers (with the same local defaults).
"""
import base64, hashlib, hmac, json, os, sys, time, urllib.error, urllib.request, uuid

API = os.environ.get("HAAT_API", "http://" + os.environ.get("HAAT_API_ADDR", "127.0.0.1:8080"))
ADMIN = os.environ.get("HAAT_ADMIN_TOKEN", "haat-dev-admin-token")
SECRET = os.environ.get("HAAT_WEBHOOK_SECRET", "whsec_aGFhdC1kZXYtd2ViaG9vay1zZWNyZXQ=")


def call(method, path, body=None, headers=None, token=ADMIN):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def webhook(channel, event):
    body = json.dumps(event).encode()
    wid, ts = "msg_" + uuid.uuid4().hex, str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    sig = base64.b64encode(hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    req = urllib.request.Request(f"{API}/v1/webhooks/{channel}/generic", data=body, method="POST")
    for k, v in {"content-type": "application/json", "webhook-id": wid, "webhook-timestamp": ts,
                 "webhook-signature": "v1," + sig}.items():
        req.add_header(k, v)
    with urllib.request.urlopen(req) as res:
        return res.status


def main():
    seed_file = os.environ.get("HAAT_DEMO_SEED_FILE", ".haat/demo.json")
    try:
        with open(seed_file) as f:
            seed = json.load(f)
    except OSError:
        sys.exit(f"{seed_file} is missing: start haat with scripts/run first")
    chain, product = seed["chain"], seed["product_id"]
    buyer = chain[-1]
    status, order = call("POST", "/v1/orders", {
        "buyer_id": buyer["id"], "lines": [{"product_id": product, "quantity": 2}],
        "shipping_address": {"name": buyer["name"], "phone": "+8801711000000", "line1": "House 1, Road 2",
                             "city": "Dhaka", "postcode": "1207"},
        "payment_method": "online"}, headers={"idempotency-key": str(uuid.uuid4())})
    print(f"order {order['invoice_no']}: {status}, total {order['total']} BDT, BV {order['bv']}")
    data = {"invoice_no": order["invoice_no"], "amount": order["total"], "currency": "BDT", "transaction_id": "TX-DEMO"}
    print("paid webhook:", webhook("payments", {"type": "payment.succeeded", "data": data}))
    _, before = call("GET", f"/v1/members/{chain[-2]['id']}/wallet")
    sent = time.monotonic()
    print("delivered webhook:", webhook("couriers", {"type": "delivery.delivered",
          "data": {"invoice_no": order["invoice_no"], "tracking_id": "SF-DEMO"}}))
    deadline = time.time() + 30
    while time.time() < deadline:
        _, w = call("GET", f"/v1/members/{chain[-2]['id']}/wallet")
        if w["pending"] != before["pending"] or w["available"] != before["available"]:
            print(f"delivered webhook -> commission pending: {(time.monotonic() - sent) * 1000:.0f} ms")
            break
        time.sleep(0.01)
    print(f"\n{'level':>5}  {'member':<12} {'pending':>10} {'available':>10}")
    for level, m in enumerate(reversed(chain[:-1]), start=1):
        _, w = call("GET", f"/v1/members/{m['id']}/wallet")
        print(f"{level:>5}  {m['name']:<12} {w['pending']:>10} {w['available']:>10}")
    _, audit = call("GET", "/v1/admin/audit")
    print("\nledger audit ok:", audit["ok"])
    print(f"\ndashboard: {API}/app (sign in with the admin key: HAAT_ADMIN_TOKEN, {ADMIN!r} by default)")


if __name__ == "__main__":
    main()
