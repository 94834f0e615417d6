#!/usr/bin/python3
"""Drives a Tryton server through its own JSON-RPC API, for the erp_tryton tests.

  tryton_api.py URL DATABASE setup                  company, currency, a product; prints {}
  tryton_api.py URL DATABASE party NAME             prints {"id": N}
  tryton_api.py URL DATABASE rename-party ID NAME   prints {}
  tryton_api.py URL DATABASE sale PARTY_ID QTY PRICE  prints {"id": N}
"""
import base64
import json
import sys
import urllib.request


def main():
    url, database, command, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    endpoint = url + database + "/"

    def call(method, params, auth=None):
        request = urllib.request.Request(endpoint, data=json.dumps({"method": method, "params": params, "id": 1}).encode(),
                                         headers={"Content-Type": "application/json"})
        if auth:
            request.add_header("Authorization", "Session " + auth)
        reply = json.loads(urllib.request.urlopen(request).read())
        if reply.get("error"):
            raise SystemExit(f"{method}: {reply['error']}")
        return reply["result"]

    user_id, session = call("common.db.login", ["admin", {"password": "adminpw"}, "en"])
    auth = base64.b64encode(f"admin:{user_id}:{session}".encode()).decode()
    companies = call("model.company.company.search", [[], 0, 1, None, {}], auth)
    context = {"company": companies[0]} if companies else {}

    def model(name, method, *params):
        return call(f"model.{name}.{method}", list(params) + [context], auth)

    if command == "setup":
        currency = model("currency.currency", "create", [{"name": "Euro", "code": "EUR", "symbol": "€"}])
        party = model("party.party", "create", [{"name": "Our Company"}])
        company = model("company.company", "create", [{"party": party[0], "currency": currency[0]}])
        model("res.user", "write", [user_id], {"companies": [["add", company]], "company": company[0]})
        context["company"] = company[0]
        unit = model("product.uom", "search", [["symbol", "=", "u"]], 0, 1, None)
        model("product.template", "create", [{"name": "Widget", "default_uom": unit[0], "sale_uom": unit[0],
                                              "list_price": {"__class__": "Decimal", "decimal": "10"},
                                              "salable": True, "products": [["create", [{}]]]}])
        print("{}")
    elif command == "party":
        print(json.dumps({"id": model("party.party", "create", [{"name": args[0]}])[0]}))
    elif command == "rename-party":
        model("party.party", "write", [int(args[0])], {"name": args[1]})
        print("{}")
    elif command == "sale":
        company = context["company"]
        currency = model("company.company", "read", [company], ["currency"])[0]["currency"]
        unit = model("product.uom", "search", [["symbol", "=", "u"]], 0, 1, None)
        product = model("product.product", "search", [], 0, 1, None)
        sale = model("sale.sale", "create", [{
            "party": int(args[0]), "company": company, "currency": currency,
            "lines": [["create", [{"product": product[0], "quantity": float(args[1]), "unit": unit[0],
                                   "unit_price": {"__class__": "Decimal", "decimal": args[2]},
                                   "description": "Widget"}]]]}])
        print(json.dumps({"id": sale[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
