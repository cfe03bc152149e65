"""Which of the media types a route offers the client's `Accept` header prefers (pure).

RFC 9110 section 12.5.1, as far as a route offering a few concrete types needs it: each range
of the header (`type/subtype`, `type/*` or `*/*`) with its weight (`q`, 0 to 1, default 1); a
type offered takes the weight of the most specific range that matches it; the heaviest wins,
ties going to the order the route offers them in (its first is its default). A type of weight
0 is refused. A header that cannot be parsed is read as no header: the route's default.
"""

from __future__ import annotations

from collections.abc import Sequence

from backoffice.core.errors import DomainError

# Beyond this the header is read as absent (no client sends a longer one for good reasons).
ACCEPT_MAX = 2000


class NotAcceptable(DomainError):
    """The client accepts none of the types the route answers in."""

    status_code = 406
    code = "not_acceptable"
    default_message = "None of the media types in Accept is one this resource is available in"


def _ranges(accept: str) -> list[tuple[str, float]] | None:
    ranges = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        if media.count("/") != 1:
            return None
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    return None
                if not 0 <= weight <= 1:
                    return None
        ranges.append((media.lower(), weight))
    return ranges


def _specificity(media_range: str, offered: str) -> int | None:
    if media_range == offered:
        return 2
    kind, _, subtype = media_range.partition("/")
    if subtype == "*" and (kind == "*" or offered.startswith(kind + "/")):
        return 0 if kind == "*" else 1
    return None


def negotiate(accept: str | None, offered: Sequence[str]) -> str:
    """The offered type the client prefers.

    Args:
        accept: the `Accept` header (None or unparsable: the first offered).
        offered: the types the route answers in, lower case, its default first.

    Raises:
        NotAcceptable: every offered type has weight 0 or matches no range.
    """
    ranges = _ranges(accept) if accept and len(accept) <= ACCEPT_MAX else None
    if not ranges:
        return offered[0]
    best: tuple[float, int] | None = None
    chosen = None
    for position, media in enumerate(offered):
        matches = [
            (specificity, weight)
            for media_range, weight in ranges
            if (specificity := _specificity(media_range, media)) is not None
        ]
        if not matches:
            continue
        weight = max(matches)[1]  # the most specific range decides
        if weight > 0 and (best is None or (weight, -position) > best):
            best, chosen = (weight, -position), media
    if chosen is None:
        raise NotAcceptable()
    return chosen
