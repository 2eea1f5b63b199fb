"""Long test documents written for crossrank's tests (original text).

``lighthouse_history()`` is a long, mostly generic history of a fictional harbour
light. Its one passage about why the lamp changed from kerosene to electricity
sits deep inside, after more than 1,000 tokens of other material.
"""

from __future__ import annotations

LIGHTHOUSE_QUERY = (
    "The lighthouse lamp was changed to electricity because storms stopped kerosene deliveries."
)

LIGHTHOUSE_ANSWER = (
    "The council replaced the kerosene lamp with an electric one in 1952 because the fuel came "
    "by boat, and winter storms kept the supply boat in port for weeks at a time; twice the "
    "light went dark when the keepers ran out of kerosene. A cable laid along the breakwater "
    "brought mains electricity, so the lamp no longer depended on deliveries."
)

_OPENING = (
    "Gullhaven is a small fishing harbour on a rocky northern coast, and its stone tower has "
    "stood on the end of the western breakwater for well over a century."
)

_PARAGRAPHS = [
    "The first tower was built of local granite cut from a quarry two miles inland. Carts "
    "pulled by horses carried the blocks down a track that still runs behind the church, and "
    "the masons lodged with fishing families through a long summer of work.",
    "Keepers kept a daily log of the weather, the ships that passed, and the state of the "
    "tower. The oldest surviving book records gales, fog, a visiting bishop, and a seal that "
    "slept on the landing stage for most of one October.",
    "Painting the tower was a task for every second spring. The keepers scraped the salt-worn "
    "walls, sealed the cracks with lime mortar, and brushed on two coats of white, then a red "
    "band near the top so that sailors could tell Gullhaven from the light at Skerry Point.",
    "Children from the village school visited each June. They climbed the ninety-one steps, "
    "looked at the brass fittings, and listened to stories about wrecks on the outer reef, "
    "most of them improved a little with every telling.",
    "The keepers' cottages had small gardens walled against the wind. Potatoes, cabbages and "
    "hardy herbs grew there, and a rain barrel at each door supplied water for washing when "
    "the well ran low in a dry summer.",
    "Fog was the keepers' oldest enemy. When the headland vanished they wound the clockwork "
    "of the fog bell every two hours through the night, and the slow notes carried across "
    "the water to the boats feeling their way home.",
    "A relief keeper rowed out on the first day of each month so that the resident keepers "
    "could walk into the village, buy supplies, post letters, and sit for an hour in the "
    "warm kitchen of the inn by the fish market.",
    "The harbour itself changed shape over the decades. The eastern pier was lengthened, a "
    "slipway was cut for the lifeboat, and a small ice house was built so that the catch "
    "could wait for the carrier's cart without spoiling.",
]

_CLOSING = (
    "Today the tower is automatic and the cottages hold a small museum, where visitors can "
    "read the old logbooks and see the keepers' brass telescope."
)


def lighthouse_history() -> str:
    """The long document, with its answering passage deep inside.

    Returns:
        About 2,000 tokens of text (over 1,500); ``LIGHTHOUSE_ANSWER`` starts after token 1,000.
    """
    body = [_OPENING]
    body.extend(_PARAGRAPHS * 3)
    body.append(LIGHTHOUSE_ANSWER)
    body.extend(_PARAGRAPHS)
    body.append(_CLOSING)
    return "\n\n".join(body)


LIGHTHOUSE_DISTRACTOR = (
    "Kerosene lamps lit many farmhouses before rural electrification, and they needed their "
    "wicks trimmed and their glass chimneys cleaned every few days."
)
