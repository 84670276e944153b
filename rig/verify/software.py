"""The proof of a software reset: the hard reset's NetworkVerifier, with the unit found by
the MAC and/or serial the operator gave, and the reboot standing in for the power cut."""

from __future__ import annotations

from typing import Any

from rig.errors import UnitNotIdentified
from rig.job import Verdict
from rig.network.sadp import SadpReply
from rig.outcomes import Outcome
from rig.verify.network import NetworkVerifier


class SoftwareVerifier(NetworkVerifier):
    """NetworkVerifier for a unit that reboots itself: found by the MAC and/or serial the
    operator gave, the reboot standing in for the power cut, the same wait_back and judge."""

    def find(self, *, mac: str | None, serial: str | None) -> SadpReply | None:
        """The unit answering SADP with this MAC and/or serial; None if nobody does.

        Raises UnitNotIdentified if the serial matches several units, or if the MAC answers
        with another serial than the one given.
        """
        poller = self._poller
        self._scanned = serial
        # One full poll cycle (plus a miss) so everything up has had the chance to answer.
        start_polls = poller.polls
        poller.wait_for(
            lambda _: poller.polls >= start_polls + 2, poller.poll_s * 4 + poller.window_s
        )
        self._before = poller.present()
        self._note("present_before_reset", macs=sorted(self._before))
        if mac is not None:
            reply = self._before.get(mac)
            if reply is not None and serial is not None and not reply.matches_serial(serial):
                raise UnitNotIdentified(
                    f"MAC {mac} answers with serial {reply.device_sn}, not {serial}: "
                    "nothing was reset"
                )
            method = "MAC given" if serial is None else "MAC and serial given"
        else:
            assert serial is not None
            matches = [r for r in self._before.values() if r.matches_serial(serial)]
            if len(matches) > 1:
                raise UnitNotIdentified(
                    f"serial {serial!r} matches {len(matches)} units on the network: "
                    "give --mac; nothing was reset"
                )
            reply = matches[0] if matches else None
            method = "serial given"
        if reply is None:
            self._note("identity", method=method, found=False)
            return None
        self._mac, self._method = reply.mac, method
        self._adopt(reply)
        self._note("identity", method=method, mac=reply.mac, sadp_xml=reply.xml)
        return reply

    def wait_rebooting(self, bound_s: float) -> bool:
        """After the reboot was accepted: True once the unit has dropped off SADP.

        The moment plays the power cut's part, so wait_back() then waits for the unit to come
        back (not for it to go, as after a running hold).
        """
        mac = self._mac
        assert mac is not None, "find() the unit first"
        self._cut_at = self._now()
        gone = self._poller.wait_for(lambda present: mac not in present, bound_s)
        self._note("rebooting", mac=mac, vanished=gone, bound_s=round(bound_s, 3))
        return gone

    def judge_basic(self, before: SadpReply) -> Verdict:
        """A basic restore keeps the network settings and the activation: nothing on the wire
        shows it happened but the reboot, so the check is that the unit came back as it was."""
        reply = self._back or self._ours(self._poller.present())
        if reply is None:
            return Verdict(Outcome.NO_RESPONSE, "gone again before it could be checked")
        self._adopt(reply)
        self._note("sadp_after", sadp_xml=reply.xml)
        if before.device_sn and reply.device_sn != before.device_sn:
            return Verdict(
                Outcome.WRONG_DEVICE,
                f"MAC {reply.mac} came back with serial {reply.device_sn}, not {before.device_sn}",
            )
        settings_before, settings_after = _network_settings(before), _network_settings(reply)
        evidence: dict[str, Any] = {
            "identity": self._method,
            "network_before": settings_before,
            "network_after": settings_after,
            "activated_after": reply.activated,
        }
        changed = [k for k in settings_before if settings_before[k] != settings_after[k]]
        if changed:
            detail = ", ".join(f"{k} {settings_before[k]} -> {settings_after[k]}" for k in changed)
            return Verdict(
                Outcome.NOT_RESET,
                f"a basic restore must keep the network settings, but {detail}",
                evidence,
            )
        if reply.activated is False:
            # Lost its activation: more than the basic restore that was asked for happened.
            return Verdict(
                Outcome.NOT_RESET, "came back inactive: not the basic restore asked for", evidence
            )
        return Verdict(Outcome.RESET_VERIFIED, "restored (basic): network settings kept", evidence)


def _raw_field(reply: SadpReply, name: str) -> str | None:
    # Devices spell these IPv4SubnetMask or Ipv4SubnetMask: compare names without case.
    wanted = name.casefold()
    return next((v for k, v in reply.raw.items() if k.casefold() == wanted), None)


def _network_settings(reply: SadpReply) -> dict[str, Any]:
    return {
        "IPv4Address": reply.ipv4,
        "IPv4SubnetMask": _raw_field(reply, "IPv4SubnetMask"),
        "IPv4Gateway": _raw_field(reply, "IPv4Gateway"),
        "DHCP": reply.dhcp,
        "HttpPort": reply.http_port,
    }
