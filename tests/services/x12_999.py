"""A small 999 writer for tests: a clearinghouse's answer to a whole 837P file."""

from __future__ import annotations


def functional_ack(gs_control: str, *, accepted: bool, control: int = 401) -> str:
    body = ["ST*999*0001*005010X231A1", f"AK1*HC*{gs_control}*005010X222A1", "AK2*837*0001*005010X222A1"]
    if not accepted:
        body += ["IK3*NM1*17**8", "IK4*9*67*7*M0X", "IK5*R*5", "AK9*R*1*1*0"]
    else:
        body += ["IK5*A", "AK9*A*1*1*1"]
    body.append(f"SE*{len(body) + 1}*0001")
    isa = (f"ISA*00*          *00*          *ZZ*CLEARINGHOUSE  *ZZ*CLINICAPP      *300314*1200*^*00501*"
           f"{control:09d}*0*P*:")
    rows = [isa, f"GS*FA*CLEARINGHOUSE*CLINICAPP*20300314*1200*{control}*X*005010X231A1", *body, f"GE*1*{control}",
            f"IEA*1*{control:09d}"]
    return "~\n".join(rows) + "~\n"
