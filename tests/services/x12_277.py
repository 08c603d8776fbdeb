"""A small 277CA writer for tests: a clearinghouse's claim-by-claim acknowledgement."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_app.services.interop.x12.x12_837 import amount


@dataclass
class Ack:
    number: str
    charge: int
    category: str  # A1 received, A2 accepted, A7 rejected, ...
    code: str = "20"
    message: str = ""
    payer_claim_number: str = ""


def acknowledgement(acks: list[Ack], *, control: int = 301) -> str:
    accepted = [a for a in acks if a.category in ("A1", "A2", "A5")]
    rejected = [a for a in acks if a not in accepted]
    body = [
        "ST*277*0001*005010X214",
        f"BHT*0085*08*ACK{control}*20300314*1200*TH",
        "HL*1**20*1",
        "NM1*PR*2*ACME HEALTH*****PI*ACME1",
        "TRN*1*BATCH1",
        "DTP*050*D8*20300314",
        "DTP*009*D8*20300314",
        "HL*2*1*21*1",
        "NM1*41*2*CLINICAPP*****46*CLINICAPP",
        "TRN*2*RECEIPT1",
        "STC*A1:19*20300314*WQ*" + amount(sum(a.charge for a in acks)),
        f"QTY*90*{len(accepted)}" if accepted else None,
        f"QTY*AA*{len(rejected)}" if rejected else None,
        f"AMT*YU*{amount(sum(a.charge for a in accepted))}" if accepted else None,
        f"AMT*YY*{amount(sum(a.charge for a in rejected))}" if rejected else None,
        "HL*3*2*19*1",
        "NM1*85*2*TEST CLINIC PT LLC*****XX*1245319599",
        "TRN*1*0",
        "STC*A1:19**WQ*" + amount(sum(a.charge for a in acks)),
    ]
    body = [b for b in body if b]
    for n, a in enumerate(acks, start=4):
        body += [
            f"HL*{n}*3*PT",
            "NM1*QC*1*DIAZ*CARA****MI*M010001",
            f"TRN*2*{a.number}",
            f"STC*{a.category}:{a.code}*20300314*{'WQ' if a in accepted else 'U'}*{amount(a.charge)}" + (
                f"********{a.message}" if a.message else ""),
        ]
        if a.payer_claim_number:
            body.append(f"REF*1K*{a.payer_claim_number}")
        body.append("DTP*472*D8*20300312")
    body.append(f"SE*{len(body) + 1}*0001")
    isa = (f"ISA*00*          *00*          *ZZ*CLEARINGHOUSE  *ZZ*CLINICAPP      *300314*1200*^*00501*"
           f"{control:09d}*0*P*:")
    rows = [isa, f"GS*HN*CLEARINGHOUSE*CLINICAPP*20300314*1200*{control}*X*005010X214", *body, f"GE*1*{control}",
            f"IEA*1*{control:09d}"]
    return "~\n".join(rows) + "~\n"
