from poppleproject.worker_signals import label_arguments


def labelled(args, kwargs=None):
    headers = {"argsrepr": repr(args), "kwargsrepr": repr(kwargs or {})}
    label_arguments(headers=headers, body=(args, kwargs or {}, {}))
    return headers["argsrepr"], headers["kwargsrepr"]


def test_a_chat_message_is_shown_by_its_ids_only():
    payload = {"message_id": 11, "channel_id": 22, "guild_id": 33, "author_id": 44, "content": "secret++"}
    assert labelled((payload,)) == ("message_id=11 channel_id=22", "{}")


def test_an_edit_and_a_deletion_are_shown_by_their_ids_only():
    edit = {"message_id": 11, "channel_id": 22, "content": "secret++", "edited": 1_700_000_000_000_000}
    assert labelled((edit,)) == ("message_id=11 channel_id=22 edited", "{}")
    deletion = {"guild_id": 33, "channel_id": 22, "deleted": [11, 12], "at": 1.0}
    assert labelled((deletion,)) == ("channel_id=22 deleted=2", "{}")


def test_a_reply_is_shown_by_its_ids_only():
    payload = {"channel_id": 22, "message_id": 11, "lines": [["alice has 3 karma.", "alice", 3]]}
    assert labelled((payload,)) == ("message_id=11 channel_id=22", "{}")


def test_anything_else_is_hidden():
    assert labelled(({"event": "left", "guild_ids": [1, 2], "at": 0},)) == ("servers=2", "{}")
    assert labelled(({"content": "x++"},)) == ("(hidden)", "{}")
    assert labelled(("just a string", 2)) == ("(2 arguments)", "{}")
    assert labelled((), {"payload": {"content": "x++"}}) == ("()", "{...}")


def test_every_popple_task_is_routed_to_a_queue_that_accepts_it():
    # A worker accepts on each queue only the tasks routed there: an unrouted task would be refused.
    from poppleproject.celery import app
    from poppleproject.consumer import tasks_by_queue

    accepted = {name for names in tasks_by_queue().values() for name in names}
    popple = {name for name in app.tasks if not name.startswith("celery.")}
    assert popple == accepted
    assert set(tasks_by_queue()) == {"karma", "replies", "answers"}
