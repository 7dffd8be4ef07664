"""Welcome a signup, tips after two days, a nudge a week later, an offer on renewal day."""


def run(event, step):
    user = event.params["user"]
    step.do("welcome", tools.send_message, to=user, template="welcome")
    step.sleep("two days in", "2 days")
    step.do("tips", tools.send_message, to=user, template="tips")
    step.sleep("a week later", "7 days")
    sent = ["welcome", "tips"]
    if not step.do("check activity", tools.has_logged_in, user=user):
        step.do("nudge", tools.send_message, to=user, template="nudge")
        sent.append("nudge")
    step.sleep_until("renewal day", event.params["renewal_at"])
    step.do("renewal offer", tools.send_message, to=user, template="renewal-offer")
    sent.append("renewal-offer")
    return {"user": user, "sent": sent}
