"""What smpplib 2.2.4's make_parts does with our texts (gateway/sms/smpp.py relies on it),
and the receipt text SMSCs send."""

from __future__ import annotations

from gateway.sms.smpp import encode, parse_receipt, status_name


def test_arabic_goes_as_ucs2_in_two_parts_with_one_8bit_reference() -> None:
    text = "ا" * 100
    encoded = encode(text)
    assert (encoded.data_coding, encoded.esm_class, len(encoded.parts)) == (8, 0x40, 2)
    headers = [part[:6] for part in encoded.parts]
    assert {h[:3] for h in headers} == {b"\x05\x00\x03"}
    assert headers[0][3] == headers[1][3]
    assert [(h[4], h[5]) for h in headers] == [(2, 1), (2, 2)]
    assert b"".join(part[6:] for part in encoded.parts).decode("utf-16-be") == text
    assert max(len(part) for part in encoded.parts) <= 140


def test_short_arabic_is_one_ucs2_part_and_latin_is_gsm7() -> None:
    assert (encode("ا" * 70).data_coding, len(encode("ا" * 70).parts), encode("ا" * 70).esm_class) == (8, 1, 0)
    latin = encode("Votre reference: 12345678 @ agence")
    assert (latin.data_coding, latin.esm_class, latin.parts) == (0, 0, [latin.parts[0]])
    long_latin = encode("x" * 200)
    assert (long_latin.data_coding, len(long_latin.parts)) == (0, 2)
    assert [len(part) for part in long_latin.parts] == [6 + 153, 6 + 47]


def test_receipts_are_read() -> None:
    receipt = parse_receipt(
        "id:smsc-7 sub:001 dlvrd:001 submit date:2612031100 done date:2612031101 stat:DELIVRD err:000 text:Votre"
    )
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.error) == ("smsc-7", "DELIVRD", "000")
    assert parse_receipt("hello") is None
    assert status_name(0x58) == "ESME_RTHROTTLED"
    assert status_name(0x0D) == "ESME_RBINDFAIL"
