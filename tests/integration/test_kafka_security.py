"""Kafka security against a real Apache Kafka with secured listeners: SASL (PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512) over TLS, TLS client certificates, and host name checking,
through skyfence's own clients (the admin client that creates topics, the producer, and the
Faust apps of a running pipeline). The CA and certificates are made here with
``cryptography``; nothing is fetched."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import ipaddress
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from alerts.channels.base import ListChannel
from alerts.runner import start_pipeline
from streams.config import StreamSettings
from streams.kafka_auth import client_kwargs
from streams.topics import ensure_topics
from tests.integration.conftest import require_apache_kafka
from tests.support.brokers import ApacheKafkaBroker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

USER, PASSWORD = "desk", "FAKE-kafka-password-7Qx"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *, ca: bool = False, sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _pem(path: Path, *parts: x509.Certificate | ec.EllipticCurvePrivateKey) -> str:
    out = b""
    for part in parts:
        if isinstance(part, x509.Certificate):
            out += part.public_bytes(serialization.Encoding.PEM)
        else:  # Kafka's PEM key store wants PKCS#8
            out += part.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
    path.write_bytes(out)
    return str(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA; a broker certificate for IP 127.0.0.1 only (so "localhost" fails a host name
    check); a client certificate."""
    d = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _cert("skyfence test CA", ca_key, None, ca=True)
    broker_key = _key()
    broker = _cert("broker", broker_key, (ca, ca_key), sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client_key = _key()
    client = _cert("skyfence-client", client_key, (ca, ca_key))
    return {
        "ca": _pem(d / "ca.pem", ca),
        "broker": _pem(d / "broker.pem", broker_key, broker),
        "client_cert": _pem(d / "client.pem", client),
        "client_key": _pem(d / "client.key", client_key),
    }


@pytest.fixture(scope="module")
def secure_kafka(pki: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafkaBroker]:
    require_apache_kafka()
    props: dict[str, str] = {}
    for listener, client_auth in (("secure", "none"), ("mtls", "required")):
        props |= {
            f"listener.name.{listener}.ssl.keystore.type": "PEM",
            f"listener.name.{listener}.ssl.keystore.location": pki["broker"],
            f"listener.name.{listener}.ssl.truststore.type": "PEM",
            f"listener.name.{listener}.ssl.truststore.location": pki["ca"],
            f"listener.name.{listener}.ssl.client.auth": client_auth,
        }
    props |= {
        "listener.name.secure.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "listener.name.secure.plain.sasl.jaas.config": (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'user_{USER}="{PASSWORD}";'
        ),
        "listener.name.secure.scram-sha-256.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.secure.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
    }
    broker = ApacheKafkaBroker(
        work_dir=tmp_path_factory.mktemp("secure-kafka"),
        extra_listeners={"SECURE": "SASL_SSL", "MTLS": "SSL"},
        scram_users=[
            f"SCRAM-SHA-256=[name={USER},password={PASSWORD}]",
            f"SCRAM-SHA-512=[name={USER},password={PASSWORD}]",
        ],
        properties=props,
    )
    with broker:
        yield broker


def _settings(bootstrap: str, tmp_path: Path, **security: object) -> StreamSettings:
    run = uuid.uuid4().hex[:8]
    return StreamSettings(
        broker=bootstrap, app_id=f"sec-{run}", positions_topic=f"sec-{run}.positions",
        events_topic=f"sec-{run}.events", dead_letter_topic=f"sec-{run}.dlq", partitions=1,
        data_dir=str(tmp_path / "faust"), **security,  # type: ignore[arg-type]
    )  # fmt: skip


async def _list_topics(settings: StreamSettings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker, request_timeout_ms=8000, **client_kwargs(settings))
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def _sasl(broker: ApacheKafkaBroker, pki: dict[str, str], mechanism: str, password: str = PASSWORD) -> dict[str, object]:
    return {
        "security_protocol": "SASL_SSL", "sasl_mechanism": mechanism, "sasl_username": USER,
        "sasl_password": SecretStr(password), "ssl_cafile": pki["ca"],
    }  # fmt: skip


async def test_a_pipeline_runs_over_sasl_scram_and_tls(secure_kafka: ApacheKafkaBroker, pki: dict[str, str], tmp_path: Path) -> None:
    settings = _settings(secure_kafka.listener_bootstrap("SECURE"), tmp_path, **_sasl(secure_kafka, pki, "SCRAM-SHA-256"))
    channel = ListChannel()
    pipeline = await start_pipeline(settings, settings.broker, [channel])  # topics + Faust, secured
    try:
        producer = AIOKafkaProducer(bootstrap_servers=settings.broker, acks="all", **client_kwargs(settings))
        await producer.start()
        try:
            t0 = 1_695_690_000.0
            for i in range(40):  # a track crossing into the DPRK (as in tests/component/test_cli.py)
                fix = {"icao24": "1551e0", "ts": t0 + 10 * i, "lat": 40.30 - 0.01 * i, "lon": 124.0 + 0.025 * i}
                await producer.send_and_wait(settings.positions_topic, orjson.dumps(fix), key=b"1551e0")
        finally:
            await producer.stop()
        deadline = time.monotonic() + 60
        while not any(e.type.value == "entered" for e in channel.events):
            assert time.monotonic() < deadline, f"no entry event over SASL_SSL; got {channel.events}"
            await asyncio.sleep(0.1)
    finally:
        await pipeline.stop()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
async def test_other_sasl_mechanisms_and_a_wrong_password(
    secure_kafka: ApacheKafkaBroker, pki: dict[str, str], tmp_path: Path, mechanism: str
) -> None:
    good = _settings(secure_kafka.listener_bootstrap("SECURE"), tmp_path, **_sasl(secure_kafka, pki, mechanism))
    await ensure_topics(good.broker, good)
    assert good.positions_topic in await _list_topics(good)
    bad = dataclasses.replace(good, sasl_password=SecretStr("not-the-password"))
    with pytest.raises(Exception) as info:
        await _list_topics(bad)
    assert "not-the-password" not in str(info.value) and PASSWORD not in str(info.value)


async def test_tls_client_certificate_is_required_and_accepted(secure_kafka: ApacheKafkaBroker, pki: dict[str, str], tmp_path: Path) -> None:
    mtls = secure_kafka.listener_bootstrap("MTLS")
    with_cert = _settings(mtls, tmp_path, security_protocol="SSL", ssl_cafile=pki["ca"],
                          ssl_certfile=pki["client_cert"], ssl_keyfile=pki["client_key"])  # fmt: skip
    await ensure_topics(with_cert.broker, with_cert)
    assert with_cert.events_topic in await _list_topics(with_cert)
    without = dataclasses.replace(with_cert, ssl_certfile="", ssl_keyfile="")
    with pytest.raises(Exception):  # noqa: B017 - aiokafka raises a connection error here
        await _list_topics(without)


async def test_host_name_is_checked(secure_kafka: ApacheKafkaBroker, pki: dict[str, str], tmp_path: Path) -> None:
    # The broker's certificate names 127.0.0.1 only: "localhost" fails the check...
    by_name = _settings(secure_kafka.listener_bootstrap("SECURE", host="localhost"), tmp_path, **_sasl(secure_kafka, pki, "SCRAM-SHA-256"))
    with pytest.raises(Exception):  # noqa: B017
        await _list_topics(by_name)
    # ...unless the check is turned off (the chain is still verified against the CA).
    unchecked = dataclasses.replace(by_name, ssl_check_hostname=False)
    assert isinstance(await _list_topics(unchecked), set)
    # And a CA that did not sign the broker's certificate fails even without the check.
    other = _settings(by_name.broker, tmp_path, **{**_sasl(secure_kafka, pki, "SCRAM-SHA-256"), "ssl_cafile": pki["client_cert"]})
    with pytest.raises(Exception):  # noqa: B017
        await _list_topics(dataclasses.replace(other, ssl_check_hostname=False))
