"""After a day, post yesterday's signup count to the team channel."""


def run(event, step):
    step.sleep("wait a day", event.params.get("delay", "1 day"))
    signups = step.do("count signups", tools.daily_signups)
    channel = event.params.get("channel", "#general")
    step.do("post", tools.post_to_channel, channel=channel, text=f"{signups} signups yesterday")
    return {"signups": signups, "channel": channel}
