"""One NATS connection per process: JetStream streams, durable pull consumers, request-reply.

Events travel on JetStream (persisted, at-least-once: handlers must be idempotent, see
`inbox`); commands and queries travel as core NATS requests answered by a queue group, in the
reply envelope `{"ok": true, "data": ...}` or `{"ok": false, "error": {...}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, StorageType
from nats.js.client import JetStreamContext

from backoffice.core.errors import DomainError, ServiceUnavailable
from backoffice.core.messaging.wire import (
    Message,
    RemoteError,
    encode,
    error_reply,
    parse_reply,
)
from backoffice.core.natsauth import NatsLogin

__all__ = ["Bus", "Message", "MessagingUnavailable", "RemoteError"]

log = structlog.get_logger()

MSG_ID_HEADER = "Nats-Msg-Id"
DUPLICATE_WINDOW = 120.0  # seconds: the broker drops a republished Nats-Msg-Id within this
ACK_WAIT = 30.0  # seconds a consumer has to ack before the broker redelivers
NAK_DELAY = 1.0  # seconds before a message whose handler failed is redelivered
FETCH_TIMEOUT = 1.0  # seconds a pull waits; also how soon a pull lost in an outage is re-sent
RETRY_DELAY = 1.0  # seconds a consumer waits after a connection error before pulling again
NO_RESPONDERS_RETRIES = (0.005, 0.01, 0.02, 0.04)  # seconds between asks (see `_request`)
STREAM_IN_USE = 10058  # JetStream's error code: "stream name already in use" (another config)
CLOSE_TIMEOUT = 5.0  # seconds each step of a close may take: a shutdown never hangs on the broker

MessageHandler = Callable[["Message"], Awaitable[None]]
RequestHandler = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]


class MessagingUnavailable(ServiceUnavailable):
    """The broker did not take a message (disconnected, no stream, no ack in time)."""

    default_message = "Messaging unavailable"


class Bus:
    """A NATS connection with the consumers and responders started on it."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._consumers: set[asyncio.Task[None]] = set()
        self._pulls: list[JetStreamContext.PullSubscription] = []
        self._responders: list[Subscription] = []
        self._in_flight: set[asyncio.Task[None]] = set()

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str,
        login: NatsLogin | None = None,
        tls: ssl.SSLContext | None = None,
        connect_timeout: float = 2.0,
        reconnect_wait: float = 0.25,
    ) -> Bus:
        """Connect to NATS; once connected, reconnect forever after any outage.

        Args:
            url: The server URL, e.g. `nats://127.0.0.1:4222` (`tls://...` for TLS).
            name: The connection's name, shown in the server's monitoring.
            login: The NATS user to connect as (its replies come to its own inbox); None:
                anonymous, which a server with users refuses.
            tls: The TLS context, e.g. trusting a private authority (None: the system's).
            connect_timeout: Seconds the first connection may take.
            reconnect_wait: Seconds between reconnection attempts.

        Returns:
            The connected bus.

        Raises:
            ServiceUnavailable: The first connection failed.
        """
        nc = Client()
        options: dict[str, Any] = {}
        if login is not None:
            options = {"user": login.user, "password": login.password, "inbox_prefix": login.inbox}
        if tls is not None:
            options["tls"] = tls

        refused: list[str] = []  # the server's word on the credentials, if it refused them

        async def on_error(exc: Exception) -> None:
            error = str(exc) or type(exc).__name__
            if "authorization violation" in error.lower() and not nc.is_connected:
                refused.append(error)
            log.warning("nats error", connection=name, error=error)

        async def on_disconnected() -> None:
            log.warning("nats disconnected", connection=name)

        async def on_reconnected() -> None:
            log.info("nats reconnected", connection=name)

        try:
            # nats-py retries the first connection forever too when reconnects are unlimited:
            # the deadline turns that into a clear failure at start-up.
            await asyncio.wait_for(
                nc.connect(
                    url,
                    name=name,
                    error_cb=on_error,
                    disconnected_cb=on_disconnected,
                    reconnected_cb=on_reconnected,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    connect_timeout=connect_timeout,  # type: ignore[arg-type]  # seconds, any real
                    reconnect_time_wait=reconnect_wait,  # type: ignore[arg-type]
                    **options,
                ),
                timeout=connect_timeout * 2,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            await nc.close()
            if refused:
                who = f"the user {login.user!r}" if login else "a connection without credentials"
                raise ServiceUnavailable(
                    f"NATS at {url} refuses {who} ({refused[-1]}): check the password"
                ) from exc
            raise ServiceUnavailable(f"Cannot connect to NATS at {url}") from exc
        return cls(nc)

    @property
    def jetstream(self) -> JetStreamContext:
        """The JetStream context, for what this class does not wrap (stream and consumer info)."""
        return self._js

    @property
    def connected(self) -> bool:
        """Whether the connection is up right now (False while reconnecting)."""
        return bool(self._nc.is_connected)

    async def close(self) -> None:
        """Stop every consumer and responder started here, let replies finish, and disconnect."""
        for task in self._consumers:
            task.cancel()
        if self._consumers:  # bounded: a close must never hang a shutdown
            await asyncio.wait(self._consumers, timeout=CLOSE_TIMEOUT)
        self._consumers.clear()
        # Unsubscribed, not drained: nobody fetches what a pull left in its queue, so a drain
        # would wait for it in vain. Messages delivered but not acked come back after ACK_WAIT.
        for pull in self._pulls:
            with contextlib.suppress(nats.errors.Error):  # the connection is already gone
                await pull.unsubscribe()
        self._pulls.clear()
        for sub in self._responders:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        self._responders.clear()
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=CLOSE_TIMEOUT)
            for task in self._in_flight:
                task.cancel()
        if self._nc.is_connected:
            # It went down meanwhile, or drains too slowly: just close.
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await asyncio.wait_for(self._nc.drain(), timeout=CLOSE_TIMEOUT)
        down = not self._nc.is_connected
        try:
            await self._nc.close()  # a no-op after a drain
        except (OSError, RuntimeError) as exc:  # RuntimeError: uvloop's "handler is closed"
            if not down:
                raise
            # NATS is down: nats-py writes what it buffered meanwhile (pulls, acks) into the
            # lost connection and fails. None of it matters now: unacked messages come back.
            log.info("nats was down at close", error=repr(exc))

    async def ensure_stream(self, name: str, subjects: list[str]) -> None:
        """Create a file-backed stream with a 2-minute duplicate window, or update it to that.

        Args:
            name: The stream's name.
            subjects: The subjects it captures (wildcards allowed).
        """
        config: dict[str, Any] = {
            "name": name,
            "subjects": subjects,
            "storage": StorageType.FILE,
            "duplicate_window": DUPLICATE_WINDOW,
        }
        try:
            await self._js.add_stream(**config)
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != STREAM_IN_USE:
                raise
            await self._js.update_stream(**config)

    async def publish(self, subject: str, payload: Mapping[str, Any], *, msg_id: str) -> None:
        """Publish an event to JetStream and wait for the broker's ack.

        A message with a `msg_id` the stream saw within its duplicate window is acked but
        dropped: republishing after a failure is safe.

        Args:
            subject: A subject some stream captures.
            payload: The event's body.
            msg_id: Its unique id, sent as the `Nats-Msg-Id` header.

        Raises:
            MessagingUnavailable: The broker did not ack it (it may still have stored it).
        """
        if not self.connected:  # fail at once: nats-py would buffer it and time out later
            raise MessagingUnavailable(f"NATS is disconnected: cannot publish on {subject}")
        try:
            await self._js.publish(subject, encode(payload), headers={MSG_ID_HEADER: msg_id})
        except (nats.errors.Error, OSError) as exc:
            raise MessagingUnavailable(f"Publishing on {subject} failed: {exc!r}") from exc

    async def consume(
        self,
        stream: str,
        durable: str,
        subject: str,
        handler: MessageHandler,
        *,
        batch: int = 64,
    ) -> None:
        """Start a durable pull consumer in the background, acking each message once handled.

        A handler that raises gets its message redelivered after a short delay, as many times
        as it takes (delivery is at-least-once: handlers must be idempotent). A message that is
        not a JSON object never reaches the handler: it is logged and ended, not redelivered.

        Args:
            stream: The stream to read.
            durable: The durable consumer's name: it remembers what was acked across restarts.
            subject: The subjects to receive (a filter within the stream).
            handler: Called with each message.
            batch: How many messages to pull at once.
        """
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT,
            max_deliver=-1,
            filter_subject=subject,
        )
        sub = await self._js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
        self._pulls.append(sub)
        task = asyncio.create_task(self._pull(sub, durable, handler, batch), name=durable)
        self._consumers.add(task)

    async def _pull(
        self,
        sub: JetStreamContext.PullSubscription,
        durable: str,
        handler: MessageHandler,
        batch: int,
    ) -> None:
        while True:
            try:
                msgs: list[Msg] = await sub.fetch(batch, timeout=FETCH_TIMEOUT)
            except (nats.errors.TimeoutError, TimeoutError):
                # Nothing to read (or an outage that looks the same): pull again. Under load
                # nats-py lets asyncio's own TimeoutError out of a fetch too, and that one is an
                # OSError: it belongs here, not with the connection errors below. But a close
                # that cancelled this task while the fetch timed out must still end it.
                if _cancelling():
                    raise asyncio.CancelledError from None
                continue
            except (nats.errors.Error, OSError) as exc:
                log.warning("consumer cannot pull", consumer=durable, error=repr(exc))
                await asyncio.sleep(RETRY_DELAY)
                continue
            for msg in msgs:
                await self._handle(msg, durable, handler)

    async def _handle(self, msg: Msg, durable: str, handler: MessageHandler) -> None:
        headers = msg.headers or {}
        try:
            data = json.loads(msg.data)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError:
            # It would fail the same way at every redelivery: end it, loudly (no dead letters).
            log.error("undecodable message dropped", consumer=durable, subject=msg.subject)
            await _settle(msg.term(), durable)
            return
        try:
            message = Message(
                subject=msg.subject,
                msg_id=headers.get(MSG_ID_HEADER),
                data=data,
                deliveries=msg.metadata.num_delivered,
            )
            await handler(message)
        except Exception:
            log.exception("consumer handler failed", consumer=durable, subject=msg.subject)
            await _settle(msg.nak(delay=NAK_DELAY), durable)
        else:
            await _settle(msg.ack(), durable)

    async def serve(self, subject: str, queue: str, handler: RequestHandler) -> None:
        """Answer requests on `subject` in a queue group, each request in its own task.

        The handler returns the reply's data or raises a `DomainError`, which the requester
        re-raises as a `RemoteError` with the same status, code, message and errors.

        Args:
            subject: The subject requests arrive on.
            queue: The queue group: one member of it answers each request.
            handler: Called with the request's decoded JSON object.
        """

        async def on_request(msg: Msg) -> None:
            # nats-py awaits a subscription's callback before the next message: answer in a
            # task so that a slow request does not hold up the others.
            task = asyncio.create_task(self._answer(msg, handler))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

        self._responders.append(await self._nc.subscribe(subject, queue=queue, cb=on_request))
        await self._nc.flush()  # registered with the server on return: requests find it at once

    async def _answer(self, msg: Msg, handler: RequestHandler) -> None:
        try:
            body = json.loads(msg.data)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            reply = error_reply(422, "validation_error", "The request must be a JSON object")
        else:
            try:
                reply = {"ok": True, "data": dict(await handler(body))}
            except DomainError as exc:
                reply = error_reply(exc.status_code, exc.code, exc.message, exc.errors)
            except Exception:
                log.exception("request handler failed", subject=msg.subject)
                reply = error_reply(500, "internal_error", "Internal error")
        if not msg.reply:
            return  # published, not requested: nobody waits for an answer
        try:
            await msg.respond(encode(reply))
        except (nats.errors.Error, OSError) as exc:
            log.warning("cannot reply", subject=msg.subject, error=repr(exc))

    async def request(
        self,
        subject: str,
        payload: Mapping[str, Any],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - handed to nats-py, which cleans up after it
    ) -> dict[str, Any]:
        """Send a request and return the data of its reply.

        Args:
            subject: The subject a service answers on.
            payload: The request's body.
            timeout: Seconds to wait for the reply.

        Returns:
            The `data` of an ok reply.

        Raises:
            RemoteError: The service replied with an error (its status, code, message, errors).
            ServiceUnavailable: Nobody answered in time, nobody listens, or NATS is down.
        """
        if not self.connected:
            raise ServiceUnavailable(f"NATS is disconnected: cannot request {subject}")
        try:
            msg = await self._request(subject, encode(payload), timeout)
        except nats.errors.NoRespondersError as exc:
            raise ServiceUnavailable(f"No service answers {subject}") from exc
        except nats.errors.TimeoutError as exc:
            raise ServiceUnavailable(f"No reply on {subject} within {timeout:g} s") from exc
        except (nats.errors.Error, OSError) as exc:
            raise ServiceUnavailable(f"Request on {subject} failed: {exc!r}") from exc
        return parse_reply(subject, msg.data)

    async def _request(self, subject: str, data: bytes, seconds: float) -> Msg:
        # The server may answer "no responders" for a few milliseconds after a responder
        # subscribed on another connection (seen in 7% of first requests, for up to 5 ms, even
        # after the responder's flush): ask again a few times before believing it.
        deadline = asyncio.get_running_loop().time() + seconds
        for pause in NO_RESPONDERS_RETRIES:
            try:
                return await self._nc.request(subject, data, timeout=seconds)
            except nats.errors.NoRespondersError:
                seconds = deadline - asyncio.get_running_loop().time() - pause
                if seconds <= 0:
                    raise
                await asyncio.sleep(pause)
        return await self._nc.request(subject, data, timeout=seconds)


async def _settle(ack: Awaitable[None], durable: str) -> None:
    """Send an ack or nak; if the connection is gone, the broker redelivers after `ACK_WAIT`."""
    try:
        await ack
    except (nats.errors.Error, OSError) as exc:
        log.warning("cannot ack", consumer=durable, error=repr(exc))


def _cancelling() -> bool:
    """Whether the running task was asked to stop (a cancel a library turned into a timeout)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
