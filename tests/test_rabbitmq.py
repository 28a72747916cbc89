"""RabbitMQ as `manage.py setup_rabbitmq` leaves it (poppleproject/rabbitmq.py): an account per
role that can do only its part, quorum queues that move a message killing its workers to the
dead-letter queue, and a length limit that refuses new messages, which the gateway keeps."""

import base64
import json
import sys
import urllib.parse
import urllib.request

import kombu
import pytest
from amqp.exceptions import AccessRefused, MessageNacked
from celery import Celery
from django.conf import settings

from karma.models import Karma
from poppleproject import rabbitmq
from testkit.messages import POISON, chat
from testkit.processes import manage
from testkit.stack import BROKER_URL, VHOST, broker_url, purge_queues, queued

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

TASK = {"task": "karma.handle_message"}  # a body is never looked at here: no worker runs


def publish(role, exchange, count=1):
    with kombu.Connection(broker_url(role), transport_options={"confirm_publish": True}) as connection:
        producer = connection.Producer()
        for _ in range(count):
            producer.publish(TASK, exchange=exchange, routing_key=exchange, serializer="json", timeout=10)


def consume(role, queue):
    with kombu.Connection(broker_url(role)) as connection:
        channel = connection.channel()
        channel.basic_consume(queue, callback=lambda message: None)
        channel.close()


def dead_letters():
    """The tasks' names in the dead-letter queue, left in it."""
    with kombu.Connection(BROKER_URL) as connection:
        queue = kombu.Queue(rabbitmq.DEAD_LETTERS, channel=connection.default_channel, no_declare=True)
        messages = []
        while (message := queue.get(no_ack=False)) is not None:
            messages.append(message)
        names = [message.headers["task"] for message in messages]
        for message in messages:
            message.requeue()
        return names


@pytest.fixture
def empty_queues(services):
    purge_queues()
    yield
    purge_queues()


def test_the_gateway_may_only_publish_to_karma(empty_queues):
    publish("gateway", "karma")
    assert queued("karma") == 1
    with pytest.raises(AccessRefused):
        consume("gateway", "karma")  # it cannot take (or read) the messages it sent
    for queue in ("replies", "answers"):
        with pytest.raises(AccessRefused):
            publish("gateway", queue)  # nor post to Discord through the reply workers
        assert queued(queue) == 0


@pytest.mark.parametrize("role", ["flower", "web", "beat"])
def test_monitors_and_the_web_cannot_queue_replies(empty_queues, role):
    for queue in ("replies", "answers"):
        with pytest.raises(AccessRefused):
            publish(role, queue)
        assert queued(queue) == 0
    with pytest.raises(AccessRefused):
        consume(role, "karma")


def test_flower_cannot_queue_chat_messages(empty_queues):
    with pytest.raises(AccessRefused):
        publish("flower", "karma")
    assert queued("karma") == 0


def test_the_web_may_only_publish_slash_commands_to_karma(empty_queues):
    publish("web", "karma")  # /interactions: a slash command over HTTP, as a gateway would
    assert queued("karma") == 1


def test_the_autoscaler_may_only_read_queue_lengths(empty_queues):
    # KEDA's account (deploy/kubernetes/keda.yaml): a passive declare needs no right.
    publish("gateway", "karma")
    with kombu.Connection(broker_url("keda")) as connection:
        assert connection.default_channel.queue_declare("karma", passive=True).message_count == 1
        assert connection.default_channel.queue_declare("answers", passive=True).message_count == 0
    with pytest.raises(AccessRefused):
        publish("keda", "karma")
    with pytest.raises(AccessRefused):
        consume("keda", "replies")
    with pytest.raises(AccessRefused):
        publish("keda", "celery.pidbox")  # a broadcast to the workers (shutdown, rate limits), as Flower's may


def test_the_autoscaler_account_is_made_only_when_its_password_is_given(empty_queues):
    without = setup_rabbitmq(RABBITMQ_KEDA_PASSWORD="")  # compose runs no KEDA
    assert without.returncode == 0, without.stderr
    assert "popple-web;" in without.stdout
    with_it = setup_rabbitmq()
    assert with_it.returncode == 0, with_it.stderr
    assert "popple-web, popple-keda;" in with_it.stdout


def test_the_setup_reads_passwords_from_files(empty_queues, tmp_path):
    # As the Kubernetes Job has them: mounted files, not environment variables.
    password = tmp_path / "rabbitmq-web-password"
    password.write_text("test-web-password\n")
    done = setup_rabbitmq(RABBITMQ_WEB_PASSWORD="", RABBITMQ_WEB_PASSWORD_FILE=password)
    assert done.returncode == 0, done.stderr
    publish("web", "karma")  # the account's password is the file's
    assert queued("karma") == 1


def test_workers_consume_the_task_queues_and_publish_replies_and_answers(empty_queues):
    for queue in rabbitmq.TASK_QUEUES:
        consume("worker", queue)
    publish("worker", "replies")
    publish("worker", "answers")  # karma workers publish answers to commands there
    assert queued("replies") == queued("answers") == 1


def test_the_setup_makes_each_task_queue_a_quorum_queue_under_the_limits(empty_queues):
    done = setup_rabbitmq()
    assert done.returncode == 0, done.stderr
    assert "queues karma, replies, answers (delivery limit" in done.stdout
    for name in rabbitmq.TASK_QUEUES:
        with urllib.request.urlopen(management(f"/api/queues/{urllib.parse.quote(VHOST, safe='')}/{name}")) as answer:
            queue = json.load(answer)
        assert queue["type"] == "quorum"
        assert queue["effective_policy_definition"]["delivery-limit"] == settings.RABBITMQ_DELIVERY_LIMIT


def management(path):
    """A request to RabbitMQ's management API as its administrator (the tests' guest)."""
    request = urllib.request.Request("http://127.0.0.1:15672" + path)
    request.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    return request


def test_a_full_queue_refuses_new_messages(empty_queues):
    limited = setup_rabbitmq(RABBITMQ_MAX_QUEUE_LENGTH=3)
    assert limited.returncode == 0, limited.stderr
    try:
        with pytest.raises(MessageNacked):
            publish("gateway", "karma", count=10)
        # What was taken stays, nothing older was dropped. (A quorum queue notices that it is full
        # one message late: it may take a fourth.)
        assert queued("karma") in {3, 4}
    finally:
        restored = setup_rabbitmq()
        assert restored.returncode == 0, restored.stderr


def test_the_gateway_keeps_what_a_full_queue_refuses(stack_factory, fake_discord, empty_queues):
    guild = fake_discord.add_guild("crowded")
    user = fake_discord.add_user("carol")
    fake_discord.add_member(guild, user)
    stack = stack_factory()
    assert setup_rabbitmq(RABBITMQ_MAX_QUEUE_LENGTH=2).returncode == 0
    try:
        gateway = stack.gateway("gateway")
        gateway.wait_for_log("connected to Discord as Popple")
        # One at a time (messages that wait in the outbox together would go in one task), each
        # once the one before is in the queue or refused, until the queue refuses one.
        sent = 0
        while "keeping messages on disk" not in gateway.log():
            assert sent < 10, "the queue never refused a message"
            before = queued("karma")
            fake_discord.send(guild, user, f"crowd{sent}++")
            sent += 1
            assert fake_discord.wait_until(
                lambda before=before: queued("karma") > before or "keeping messages on disk" in gateway.log()
            )
        for n in range(sent, sent + 2):  # kept behind it
            fake_discord.send(guild, user, f"crowd{n}++")
        sent += 2
        # (A quorum queue notices that it is full one message late: it may take a third.)
        assert queued("karma") in {2, 3}
    finally:
        assert setup_rabbitmq().returncode == 0
    # Room again: the gateway publishes what it kept, and the workers apply every message.
    stack.worker("worker")
    applied = Karma.objects.using("mariadb").filter(guild_id=guild.id)
    assert fake_discord.wait_until(lambda: applied.count() == sent, timeout=60)
    stack.stop()


def test_a_message_that_kills_its_worker_ends_in_the_dead_letter_queue(stack_factory, fake_discord, empty_queues):
    guild = fake_discord.add_guild("poisoned")
    user = fake_discord.add_user("dave")
    fake_discord.add_member(guild, user)
    stack = stack_factory()
    stack.connected_gateway()
    with kombu.Connection(BROKER_URL) as connection:
        assert connection.default_channel.queue_declare("karma", passive=True).consumer_count == 0
    publisher = Celery(broker=BROKER_URL, set_as_current=False)
    publisher.conf.task_queues = rabbitmq.task_queues()
    publisher.send_task("testkit.poison", queue="karma")
    before = fake_discord.send(guild, user, "before++")

    # Only `karma`: a worker on `replies` too would also hold a reply task when the poison kills it,
    # and a reply delivered as often as the poison is dead-lettered with it (posted, its ack lost).
    command = [sys.executable, "-m", "celery", "-A", "poppleproject", "worker", "-Q", "karma"]
    command += ["-P", "threads", "-c", "1", "-n", "poisoned@%h", "--without-gossip", "--without-mingle"]
    command += ["--include", "testkit.poison"]
    # Delivered once and again RABBITMQ_DELIVERY_LIMIT times, each time killing its worker: were it
    # dead-lettered sooner, the next worker would live, and wait() would time out.
    for _ in range(settings.RABBITMQ_DELIVERY_LIMIT + 1):
        assert queued(rabbitmq.DEAD_LETTERS) == 0
        worker = stack.start("worker", command)
        worker.popen.wait(timeout=120)  # the poison kills it
    # Then dead-lettered: by the broker once it sees the last worker's connection gone, a moment
    # after the process exits (looking at once, this test failed now and then).
    assert fake_discord.wait_until(lambda: queued(rabbitmq.DEAD_LETTERS) == 1, timeout=30)
    assert worker.log().count("if this attempt fails the same way, RabbitMQ moves it to the queue dead-letters") == 1

    # Everything else flows: a worker now lives, and answers what was sent before and after.
    survivor = stack.worker("survivor")
    after = fake_discord.send(guild, user, "after++")
    assert fake_discord.wait_until(lambda: fake_discord.replies_to(before) and fake_discord.replies_to(after))
    assert dead_letters() == ["testkit.poison"]
    # The worker account may set up Celery's delayed delivery (retries with a countdown on quorum
    # queues); Celery would only log a warning if it could not.
    assert "delayed delivery" not in survivor.log()
    stack.stop()


def test_a_chat_message_that_kills_its_worker_is_dead_lettered_alone(stack_factory, fake_discord, empty_queues):
    # Chat messages that waited in a gateway's outbox together go in one task. When one of them
    # kills its worker, the task comes back; then each message goes on alone, and only the one
    # that kills reaches the dead-letter queue.
    guild_id = 4242
    messages = [chat(text, guild_id=guild_id) for text in ("before++", POISON, "after++")]
    publisher = Celery(broker=BROKER_URL, set_as_current=False)
    publisher.conf.task_queues = rabbitmq.task_queues()
    publisher.send_task("karma.handle_messages", args=([message.to_payload() for message in messages],), queue="karma")

    stack = stack_factory()
    command = [sys.executable, "-m", "celery", "-A", "poppleproject", "worker", "-Q", "karma"]
    command += ["-P", "threads", "-c", "1", "-n", "poisoned@%h", "--without-gossip", "--without-mingle"]
    command += ["--include", "testkit.poison"]
    deaths = 0
    while queued(rabbitmq.DEAD_LETTERS) == 0:
        assert deaths <= settings.RABBITMQ_DELIVERY_LIMIT + 1, "the poison is still delivered"
        worker = stack.start("worker", command)
        worker.popen.wait(timeout=120)
        deaths += 1
    # Once in the task of three, then alone until the delivery limit.
    assert deaths == 1 + settings.RABBITMQ_DELIVERY_LIMIT + 1
    assert dead_letters() == ["karma.handle_message"]
    stack.worker("survivor", queues="karma")
    karma = Karma.objects.using("mariadb").filter(guild_id=guild_id)
    assert fake_discord.wait_until(lambda: karma.count() == 2)
    assert sorted(karma.values_list("subject", "karma")) == [("after", 1), ("before", 1)]
    stack.stop()


def setup_rabbitmq(**variables):
    """manage.py setup_rabbitmq on the tests' vhost (TEST_BROKER_URL's), with these variables: the
    limits they change must not reach another run's."""
    return manage("setup_rabbitmq", "--vhost", VHOST, **setup_environment(**variables))


def setup_environment(**variables):
    environment = {"RABBITMQ_MANAGEMENT_URL": "http://guest:guest@127.0.0.1:15672"}
    for role in rabbitmq.PERMISSIONS:
        environment[f"RABBITMQ_{role.upper()}_PASSWORD"] = f"test-{role}-password"
    return {**environment, **variables}
