"""The in-process hub: every open socket of a channel gets the frame; a broken one spoils none."""

from __future__ import annotations

from typing import Any

from api.services.hub import ConversationHub


class Socket:
    def __init__(self, *, broken: bool = False) -> None:
        self.frames: list[dict[str, Any]] = []
        self.broken = broken

    async def __call__(self, frame: dict[str, Any]) -> None:
        if self.broken:
            raise ConnectionError("the socket went away")
        self.frames.append(frame)


async def test_the_one_open_window_gets_each_frame_in_order() -> None:
    hub, window = ConversationHub(), Socket()
    hub.subscribe("c1", window)
    for n in range(3):
        await hub.publish("c1", {"n": n})
    await hub.publish("another conversation", {"n": 99})
    assert window.frames == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_every_window_but_the_sender_gets_it() -> None:
    hub, sender, tab, agent = ConversationHub(), Socket(), Socket(), Socket()
    for socket in (sender, tab, agent):
        hub.subscribe("c1", socket)
    await hub.publish("c1", {"text": "hello"}, exclude=sender)
    assert sender.frames == [] and tab.frames == agent.frames == [{"text": "hello"}]


async def test_a_socket_that_went_away_is_skipped_alone_or_among_others() -> None:
    hub, gone, open_tab = ConversationHub(), Socket(broken=True), Socket()
    hub.subscribe("alone", gone)
    await hub.publish("alone", {"text": "nobody hears this"})  # does not raise
    hub.subscribe("c1", gone)
    hub.subscribe("c1", open_tab)
    await hub.publish("c1", {"text": "still delivered"})
    assert open_tab.frames == [{"text": "still delivered"}]


async def test_an_unsubscribed_socket_gets_nothing_more() -> None:
    hub, window = ConversationHub(), Socket()
    hub.subscribe("c1", window)
    hub.unsubscribe("c1", window)
    await hub.publish("c1", {"text": "after closing"})
    assert window.frames == [] and hub.socket_count() == 0
