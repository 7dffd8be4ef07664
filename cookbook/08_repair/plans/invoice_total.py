"""Convert this month's invoices to euros, enter each in the ledger, return the total."""


def run(event, step):
    invoices = step.do("list invoices", tools.list_invoices)
    total = 0.0
    for invoice in invoices:
        converted = step.do(
            "convert", tools.to_eur, amount=invoice["amount"], currency=invoice["currency"]
        )
        eur = converted["eur"]
        step.do("enter", tools.record_entry, invoice_id=invoice["id"], amount_eur=eur)
        total += eur
    return {"invoices": len(invoices), "total_eur": round(total, 2)}
