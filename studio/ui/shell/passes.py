"""Which pass of a node is running, read from its progress messages: "pass 1 of 2: camera guide".

A render can run a model more than once: a camera guide without a picture first draws the frame the camera
looks at, then the clip. The step counter starts again for the second pass, and without a name for the pass
nobody can tell a 40 s first pass from a stalled render. A node names its pass in NodeProgress.message
("pass K of N: what", studio.runtime.recipes.steering.pass_message); a node that names only its first pass of
several (Generate Video's camera guide) goes on to the next pass with its next message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PASS = re.compile(r"^pass (\d+) of (\d+)(?::\s*(.*))?$")
LAST_PASS = "video"


@dataclass(frozen=True)
class Pass:
    node: str
    number: int
    count: int
    what: str
    message: str  # the message it was read from: the same message again is the same pass

    def label(self) -> str:
        return f"pass {self.number} of {self.count}" + (f": {self.what}" if self.what else "")

    def short(self) -> str:
        """For the node's narrow status strip: "pass 1/2: camera guide"."""
        return f"pass {self.number}/{self.count}" + (f": {self.what}" if self.what else "")


def next_pass(previous: Pass | None, node: str, message: str) -> Pass | None:
    """The pass a progress event of ``node`` belongs to, given the one before (None: a node of one pass)."""
    if previous is not None and previous.node == node and message == previous.message:
        return previous
    named = PASS.match(message.strip())
    if named:
        number, count = int(named.group(1)), int(named.group(2))
        return Pass(node, number, count, named.group(3) or "", message) if 0 < number <= count else None
    if previous is None or previous.node != node:
        return None
    if previous.number < previous.count:  # the node said something new: its next pass began
        number = previous.number + 1
        return Pass(node, number, previous.count, LAST_PASS if number == previous.count else "", message)
    return previous
