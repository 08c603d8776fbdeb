"""A small 835 writer for tests: remittances as a payer would send them for our claims."""

from __future__ import annotations

from dataclasses import dataclass, field

from clinic_app.services.interop.x12.x12_837 import amount


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
                payer: str = "ACME HEALTH", plbs: list[tuple[str, int]] = (), paid_on: str = "20300320",
                produced_on: str = "20300320", plb_date: str = "20301231", gs08: str = "005010X221A1") -> str:
    """An 835 for our claims. ``plbs``: provider-level adjustments as (reason:reference, amount), positive
    withheld from the payment (WO), negative added to it (L6 interest); ``plb`` the older one-WO shorthand."""
    withheld = plb + sum(a for _, a in plbs)
    paid = sum(c.paid for c in claims) - withheld if payment is None else payment
    body = [
        "ST*835*0001",
        f"BPR*I*{amount(paid)}*C*CHK************{paid_on}",
        f"TRN*1*{trace}*1512345678",
        f"DTM*405*{produced_on}",
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
        body.append(f"PLB*1245319599*{plb_date}*WO:X1*{amount(plb)}")
    if plbs:
        body.append("*".join(["PLB", "1245319599", plb_date, *[x for r, a in plbs for x in (r, amount(a))]]))
    body.append(f"SE*{len(body) + 1}*0001")
    isa = (f"ISA*00*          *00*          *ZZ*ACME           *ZZ*CLINICAPP      *300320*0900*^*00501*"
           f"{control:09d}*0*P*:")
    rows = [isa, f"GS*HP*ACME*CLINICAPP*20300320*0900*{control}*X*{gs08}", *body, f"GE*1*{control}", f"IEA*1*{control:09d}"]
    return "~\n".join(rows) + "~\n"


def remittance_4010(number: str, charge: int, paid: int, code: str = "97110", control: int = 401) -> str:
    """The same payment as a payer still on version 4010 sends it (004010X091A1): one claim, one line."""
    body = [
        "ST*835*0001",
        f"BPR*I*{amount(paid)}*C*CHK************20300320",
        "TRN*1*CHK4010*1512345678",
        "DTM*405*20300320",
        "N1*PR*ACME HEALTH",
        "N3*PO BOX 1",
        "N4*HARTFORD*CT*06101",
        "N1*PE*TEST CLINIC PT LLC*XX*1245319599",
        "LX*1",
        f"CLP*{number}*1*{amount(charge)}*{amount(paid)}**12*PCN4010",
        "NM1*QC*1*DIAZ*CARA****MI*M010001",
        f"SVC*HC:{code}*{amount(charge)}*{amount(paid)}**2",
        "DTM*472*20300312",
        f"CAS*CO*45*{amount(charge - paid)}",
    ]
    body.append(f"SE*{len(body) + 1}*0001")
    isa = (f"ISA*00*          *00*          *ZZ*ACME           *ZZ*CLINICAPP      *300320*0900*U*00401*"
           f"{control:09d}*0*P*:")
    rows = [isa, f"GS*HP*ACME*CLINICAPP*20300320*0900*{control}*X*004010X091A1", *body, f"GE*1*{control}", f"IEA*1*{control:09d}"]
    return "~\n".join(rows) + "~\n"
