"""The fixture data Chirp starts with, and idempotent seeding of it into Redis.

Users (password fixtures): alice / wonderland, bob / builder. A session `demo-session-alice`
exists from the start so that a journey is one request. Posts s1..s20, every third with an
image; link codes in LINKS. Each seeder writes its data and a marker in one transaction, and
runs again whenever a lookup misses and the marker is gone (a restarted Redis starts empty).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from .images import MEDIA_IDS

if TYPE_CHECKING:
    from .calls import Caller

__all__ = ["DEMO_SESSION", "LINKS", "POSTS", "USERS", "Seeder", "hash_password", "seed_auth", "seed_links",
           "seed_timeline"]

DEMO_SESSION = "demo-session-alice"
USERS = {"alice": ("wonderland", "Alice Liddell"), "bob": ("builder", "Bob the Builder")}
FOLLOWERS = ("alice", "bob")  # everyone follows everyone: every post lands on both home timelines
LINKS = {
    "abc123": "https://example.test/article/1",
    "def456": "https://example.test/article/2",
    "ghi789": "https://example.test/article/3",
    "jkl012": "https://example.test/article/4",
    "mno345": "https://example.test/article/5",
}
_TAGS = ("#chaos", "#resilience", "#redis", "#deadlines", "#fallbacks")


def _post(i: int) -> dict[str, Any]:
    author = "alice" if i % 2 else "bob"
    media = MEDIA_IDS[(i // 3) % len(MEDIA_IDS)] if i % 3 == 0 else None
    return {"id": f"s{i}", "author": author, "text": f"post {i} from {author} {_TAGS[i % len(_TAGS)]}",
            "media_id": media, "at": f"2023-03-06T12:{i:02d}:00Z"}


POSTS = tuple(_post(i) for i in range(1, 21))


def hash_password(user: str, password: str) -> str:
    """PBKDF2 with a per-user salt; few iterations because logins are on every journey's hot path."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), f"chirp:{user}".encode(), 2_000).hex()


def session_value(user: str) -> str:
    return json.dumps({"user": user, "display": USERS[user][1]})


async def seed_auth(r: Any) -> None:
    async with r.pipeline(transaction=True) as p:
        for user, (password, display) in USERS.items():
            p.hset(f"user:{user}", mapping={"password_hash": hash_password(user, password), "display": display})
        p.set(f"session:{DEMO_SESSION}", session_value("alice"))
        p.set("seeded:auth", "1")
        await p.execute()


async def seed_timeline(r: Any) -> None:
    async with r.pipeline(transaction=True) as p:
        for post in POSTS:
            p.set(f"post:{post['id']}", json.dumps(post))
        for user in FOLLOWERS:
            p.rpush(f"home:{user}", *[post["id"] for post in reversed(POSTS)])  # newest first
        p.set("seeded:timeline", "1")
        await p.execute()


async def seed_links(r: Any) -> None:
    async with r.pipeline(transaction=True) as p:
        p.hset("links", mapping=LINKS)
        p.set("seeded:links", "1")
        await p.execute()


class Seeder:
    """Seeds one service's data through its Redis caller, once per empty Redis."""

    def __init__(self, caller: Caller, name: str, write: Callable[[Any], Awaitable[None]]) -> None:
        self.caller, self.marker, self.write = caller, f"seeded:{name}", write
        self._lock = asyncio.Lock()  # two requests missing at once must not seed twice

    async def ensure(self) -> bool:
        """Seed if the marker is missing; True if data was (re)written, so a lookup is worth repeating."""
        async with self._lock:
            if await self.caller.redis(lambda r: r.exists(self.marker)):
                return False
            await self.caller.redis(self.write)
            return True
