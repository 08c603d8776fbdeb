"""HL7 v2: ADT and SIU in, ACKs out."""
