"""A small 835 writer for tests: remittances as a payer would send them for our claims."""

from __future__ import annotations

from dataclasses import dataclass, field

from clinic_app.services.x12_837 import amount


@dataclass
class Line:
    code: str
    charge: int
    paid: int
    units: int = 1
    modifiers: tuple[str, ...] = ()
    control: str = ""
    adjustments: list[tuple[str, str, int]] = field(default_factory=list)
    remarks: tuple[str, ...] = ()


@dataclass
class Paid:
    number: str
    status: str
    charge: int
    paid: int
    patient_resp: int = 0
    lines: list[Line] = field(default_factory=list)
    adjustments: list[tuple[str, str, int]] = field(default_factory=list)
    payer_claim_number: str = "PCN0001"


def cas(adjustments):
    rows, by_group = [], {}
    for group, reason, value in adjustments:
        by_group.setdefault(group, []).append((reason, value))
    for group, items in by_group.items():
        rows.append("*".join(["CAS", group, *[x for r, v in items for x in (r, amount(v))]]))
    return rows


def remittance(claims: list[Paid], *, payment: int | None = None, plb: int = 0, control: int = 101, trace: str = "CHK123",
                payer: str = "ACME HEALTH") -> str:
    paid = sum(c.paid for c in claims) - plb if payment is None else payment
    body = [
        "ST*835*0001",
        f"BPR*I*{amount(paid)}*C*CHK************20300320",
        f"TRN*1*{trace}*1512345678",
        "DTM*405*20300320",
        f"N1*PR*{payer}",
        "N3*PO BOX 1",
        "N4*HARTFORD*CT*06101",
        "PER*BL*CLAIMS*TE*8005551212",
        "N1*PE*TEST CLINIC PT LLC*XX*1245319599",
        "LX*1",
    ]
    for c in claims:
        body.append(f"CLP*{c.number}*{c.status}*{amount(c.charge)}*{amount(c.paid)}*{amount(c.patient_resp) if c.patient_resp else ''}*12*{c.payer_claim_number}")
        body.extend(cas(c.adjustments))
        body.append("NM1*QC*1*DIAZ*CARA****MI*M010001")
        for ln in c.lines:
            body.append(f"SVC*{':'.join(['HC', ln.code, *ln.modifiers])}*{amount(ln.charge)}*{amount(ln.paid)}**{ln.units}")
            body.append("DTM*472*20300312")
            body.extend(cas(ln.adjustments))
            if ln.control:
                body.append(f"REF*6R*{ln.control}")
            body.extend(f"LQ*HE*{r}" for r in ln.remarks)
    if plb:
        body.append(f"PLB*1245319599*20301231*WO:X1*{amount(plb)}")
    body.append(f"SE*{len(body) + 1}*0001")
    isa = (f"ISA*00*          *00*          *ZZ*ACME           *ZZ*CLINICAPP      *300320*0900*^*00501*"
           f"{control:09d}*0*P*:")
    rows = [isa, f"GS*HP*ACME*CLINICAPP*20300320*0900*{control}*X*005010X221A1", *body, f"GE*1*{control}", f"IEA*1*{control:09d}"]
    return "~\n".join(rows) + "~\n"
