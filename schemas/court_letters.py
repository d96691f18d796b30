"""The words of the courts' assistance letters (协助执行函), shared by both ends of the link.

Courts asked through cross-court case association do not take the network's control orders as
such: the asking court sends a letter naming a *measure* on money the answering court holds for
the debtor as an applicant in its own case, and the answer names an *outcome*. The network's
order types map one to one, so the gateway keeps one rule per order type (the withholding is a
money freeze, the transfer a deduction with its two-officer approval)."""

from __future__ import annotations

# Order type → the letter's measure.
MEASURE_OF_ORDER = {
    "freeze": "withhold",  # 扣留: hold his payout when it is made
    "continue": "extend",  # 续行扣留
    "unfreeze": "release",  # 解除扣留
    "deduct": "transfer",  # 划拨: the withheld money to the asking court's 执行款专户
    "freeze_deduct": "withhold_and_transfer",  # what is free now, transferred at once
}
ORDER_OF_MEASURE = {measure: order for order, measure in MEASURE_OF_ORDER.items()}
# The network's control answer → the letter's outcome (a transfer or extension is ``applied``).
OUTCOME_OF_ANSWER = {"applied": "done", "partially_applied": "partly_done", "queued": "queued",
                     "refused": "refused", "released": "released"}
ANSWER_OF_OUTCOME = {outcome: answer for answer, outcome in OUTCOME_OF_ANSWER.items()}
