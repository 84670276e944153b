"""The QA pass's parts (docs/architecture.md, "The QA pass"): the activation exchange
(`activation`), the measurements each check records (`measure`), the picture checks
(`picture`), the firmware policy (`firmware`), the card check (`storage`) and the bench
password (`password`). The procedure that runs them is rig.procedures.qa.
"""
