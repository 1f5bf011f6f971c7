"""Shared setup for the Python compat tests.

The broker under test is named by KAFKA_BOOTSTRAP (host:port). The same tests
run against Apache Kafka 4.4.0 (proving each expectation is Kafka's own
behaviour) and against Strata: compat-tests/run-suite.sh kafka|strata.

A missing client library or a missing/unreachable broker fails the whole run
with what to do; nothing here skips.
"""

import importlib
import os

import pytest

from support import OP_TIMEOUT, create_topic, unique_topic

REQUIRED = [
    # (module, pip package)
    ("confluent_kafka", "confluent-kafka"),
    ("kafka", "kafka-python"),
]

REQUIREMENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")


def pytest_configure(config):
    missing = []
    for module, package in REQUIRED:
        try:
            importlib.import_module(module)
        except ImportError as e:
            missing.append(f"{package} (import {module}: {e})")
    if missing:
        raise pytest.UsageError(
            "compat tests need client libraries that are not installed: "
            + "; ".join(missing)
            + f". Install them with: pip install -r {REQUIREMENTS}"
            + " (or run compat-tests/run-suite.sh, which makes .venv-compat)"
        )
    if not os.environ.get("KAFKA_BOOTSTRAP"):
        raise pytest.UsageError(
            "KAFKA_BOOTSTRAP is not set: point it at the broker under test, e.g. "
            "KAFKA_BOOTSTRAP=127.0.0.1:19092 (compat-tests/run-suite.sh sets it)"
        )


@pytest.fixture(scope="session")
def bootstrap():
    return os.environ["KAFKA_BOOTSTRAP"]


@pytest.fixture(scope="session", autouse=True)
def broker_answers(bootstrap):
    """Fail the run at once, not test by test, when no broker answers."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.list_topics(timeout=OP_TIMEOUT)
    except Exception as e:  # noqa: BLE001 - any failure means the same thing here
        pytest.exit(f"no Kafka-compatible broker answers at {bootstrap}: {e}", returncode=1)


@pytest.fixture(scope="session")
def admin(bootstrap):
    from confluent_kafka.admin import AdminClient

    # allow.auto.create.topics=false: librdkafka's admin handle is a producer
    # handle, whose default (true) would make list_topics(name) create `name`.
    return AdminClient({"bootstrap.servers": bootstrap, "allow.auto.create.topics": False})


@pytest.fixture
def make_topic(admin):
    """Create uniquely named topics; delete them after the test."""
    created = []

    def make(prefix, partitions=1, config=None):
        topic = create_topic(admin, unique_topic(prefix), partitions, config)
        created.append(topic)
        return topic

    yield make
    if created:
        futures = admin.delete_topics(created, request_timeout=OP_TIMEOUT)
        for f in futures.values():
            try:
                f.result(timeout=OP_TIMEOUT)
            except Exception:  # noqa: BLE001 - cleanup only; a test may have deleted it
                pass
