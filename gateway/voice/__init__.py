"""The voice line (IVR over Africa's Talking Voice): the USSD menus, spoken.

speech.py   what to say for a menu reply: clips of (language, text), pure
audio.py    where a clip's audio comes from: a recording, else text-to-speech, cached
xml.py      Africa's Talking Voice XML actions (the SDK has no builder)
service.py  one voice step: the session, the keys, the menus, the reply

Calls out (reminders by voice): call_outbox.py queues a call, calls.py places it and
records its outcome, caller.py is the SDK's voice.call, fake_africastalking_voice.py a
local stand-in for tests.
"""
