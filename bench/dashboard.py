"""How fast are the moderators' dashboard pages of a big server: 100,000 names, 1,000,000 ledger rows?

    python bench/dashboard.py
    BENCH_WEB_DATABASE_URL=mysql://popple:popple@127.0.0.1:3306/popple_bench_web python bench/dashboard.py

Target (issue 25): each page under 100 ms on MariaDB. The same server as bench/web.py's (filled by
it), a moderator logged in with Discord through the project's double (testkit/fakeoauth.py), and
each page rendered through Django's whole request path in this process (Django's test client), 30
times, the median and the slowest reported. The dashboard asks Discord for the moderator's servers
at most once a minute (dashboard/access.py): the runs of one page share that answer, as a
moderator's clicks do. Timings on a shared machine are noisy.
"""

import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import web  # noqa: E402  (sets the environment bench/web.py runs in)
from bench.report import markdown_table, report  # noqa: E402
from testkit.fakediscord import FakeDiscord  # noqa: E402

CALLBACK = "/dashboard/login/discord/login/callback/"


def logged_in(client, fake, moderator):
    """The moderator through Discord's login and consent (the double's), as dashboard/tests do."""
    from urllib.parse import parse_qs, urlsplit

    import urllib3

    started = client.post("/dashboard/login/discord/login/", secure=True)
    if started.status_code != 302:
        raise SystemExit(f"the login did not start: {started.status_code} {started.content[:300]!r}")
    query = {name: values[0] for name, values in parse_qs(urlsplit(started["Location"]).query).items()}
    answer = urllib3.PoolManager().request_encode_body(
        "POST", fake.oauth.authorize_url, fields={**query, "user": str(moderator), "decision": "authorize"},
        encode_multipart=False, redirect=False,
    )  # fmt: skip
    back = urlsplit(answer.headers["Location"])
    done = client.get(f"{back.path}?{back.query}", secure=True)
    if done.status_code != 302:
        raise SystemExit(f"the login failed: {done.status_code}")


def main():
    fake = FakeDiscord().start()
    began = time.monotonic()
    web.fresh()
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    # The dashboard turned on against the double, as DISCORD_CLIENT_ID and the others do (the settings
    # were read before the double had a port: dashboard/tests/conftest.py turns it on the same way).
    oauth = fake.oauth
    settings.DASHBOARD_ENABLED = True
    settings.DISCORD_CLIENT_ID, settings.DISCORD_CLIENT_SECRET = oauth.client_id, oauth.client_secret
    settings.DISCORD_API_BASE_URL, settings.DISCORD_OAUTH_AUTHORIZE_URL = fake.api_url, oauth.authorize_url
    provider = {**settings.SOCIALACCOUNT_PROVIDERS["discord"]}
    provider["APP"] = {"client_id": oauth.client_id, "secret": oauth.client_secret, "key": ""}
    settings.SOCIALACCOUNT_PROVIDERS = {"discord": provider}

    busiest, changes, _middle = web.fill()
    filled = time.monotonic() - began
    moderator = fake.add_user("moderator")
    guild = fake.add_guild("The big server", owner_id=moderator)
    # The double makes its own server ids: this one takes the id bench/web.py filled the database for.
    fake.guilds[web.GUILD] = fake.guilds.pop(guild.id)
    guild.id = web.GUILD
    fake.oauth.redirect_uris.add("https://testserver" + CALLBACK)
    client = Client()
    logged_in(client, fake, moderator)
    base = f"/dashboard/servers/{web.GUILD}"
    pages = [
        ("servers (/dashboard/)", "/dashboard/"),
        ("settings", f"{base}/"),
        ("board (private or not)", f"{base}/board/"),
        ("ledger, newest page", f"{base}/ledger/"),
        (f"ledger of the name with the most changes ({changes:,})", f"{base}/ledger/?name={quote(busiest)}"),
        ("ledger by a person", f"{base}/ledger/?person=someone"),
        ("ledger by source (merges: none)", f"{base}/ledger/?source=merge"),
        ("ledger by source (chat: every row)", f"{base}/ledger/?source=chat"),
        ("ledger of one day", f"{base}/ledger/?since=2023-11-20&until=2023-11-20"),
    ]
    rows = []
    for label, url in pages:
        median, slowest = web.timed(client, url)
        rows.append([label, f"{median:.1f}", f"{slowest:.1f}", "met" if median < web.TARGET_MS else "not met"])
    fake.stop()
    text = "\n".join(
        [
            f"A server with {web.SUBJECTS:,} names and {web.LEDGER:,} ledger rows on {connection.vendor} "
            f"(filled in {filled:.0f} s), its owner logged in with Discord (the double); each page rendered "
            f"{web.RUNS} times through Django's request path in one process; target: under {web.TARGET_MS} ms. "
            "A shared machine: figures are noisy.",
            "",
            markdown_table(["Page", "median ms", "slowest ms", f"< {web.TARGET_MS} ms (median)"], rows),
        ]
    )
    report("dashboard", text)


if __name__ == "__main__":
    main()
