"""SMPP 3.4 PDUs: our own codec (simulator and incoming parsing), statuses, MO and receipt decoding."""
