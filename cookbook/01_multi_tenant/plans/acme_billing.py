"""Wait a day, then remind every customer with an unpaid invoice."""


def run(event, step):
    step.sleep("grace period", event.params.get("grace", "1 day"))
    invoices = step.do("list unpaid invoices", tools.list_unpaid_invoices)
    for invoice in invoices:
        step.do(
            "remind customer",
            tools.send_payment_reminder,
            customer=invoice["customer"],
            invoice_id=invoice["id"],
        )
    return {"reminded": len(invoices)}
