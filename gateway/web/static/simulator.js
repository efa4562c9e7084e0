// Hirfa's phone simulator: one USSD session at a time, spoken exactly as Africa's
// Talking speaks to the gateway (form POSTs, `text` = every input joined by `*`),
// plus the end-of-session notification AT sends when a session is over.
// Voice mode: one call at a time, as Africa's Talking Voice places it (callbacks with
// isActive=1, the keys pressed posted to each GetDigits' callbackUrl, its Redirect when
// no key comes within its timeout, isActive=0 when the call is over); each Play is played
// in order, its text shown beside it.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("simulator-config").textContent);
  const phones = JSON.parse(document.getElementById("simulator-phones").textContent);
  const $ = (id) => document.getElementById(id);
  const STORED_LANGUAGE = "hirfa-simulator-language";
  const SMS_EVERY_MS = 2000;
  const SERVICE_CODE = /^[*#0-9]{1,32}$/;

  let language = pickLanguage();
  // The live session, null when the phone is idle. `ended` holds the last END screen
  // (or the reason the session stopped) until the user dismisses it.
  let session = null;
  let ended = null;
  let buffer = "";
  let lastSms = "";
  let mode = "ussd";
  // The live call (voice mode), null when none: its reply being followed, keys typed.
  let call = null;

  function pickLanguage() {
    const fromUrl = new URLSearchParams(window.location.search).get("lang");
    const stored = window.localStorage.getItem(STORED_LANGUAGE);
    for (const candidate of [fromUrl, stored, config.language]) {
      if (candidate && config.texts[candidate]) return candidate;
    }
    return "fr";
  }

  function t(key) {
    return config.texts[language][key] || config.texts.fr[key] || key;
  }

  // ---- language of the page -------------------------------------------------

  function applyLanguage() {
    document.documentElement.lang = language;
    document.documentElement.dir = language === "ar" ? "rtl" : "ltr";
    document.querySelectorAll("[data-t]").forEach((node) => {
      node.textContent = t(node.dataset.t);
    });
    document.querySelectorAll("[data-t-placeholder]").forEach((node) => {
      node.placeholder = t(node.dataset.tPlaceholder);
    });
    document.querySelectorAll("[data-t-label]").forEach((node) => {
      node.setAttribute("aria-label", t(node.dataset.tLabel));
    });
    document.querySelectorAll("[data-lang]").forEach((node) => {
      node.setAttribute("aria-pressed", String(node.dataset.lang === language));
    });
    const options = $("phone-select").options;
    phones.forEach((phone, index) => {
      // The number isolated left to right, so that an Arabic label does not reorder it.
      options[index].textContent = "\u2066" + phone.phone + "\u2069 · " + phone.labels[language];
    });
    render();
    renderSms(lastSms ? JSON.parse(lastSms) : []);
  }

  function setLanguage(code) {
    language = code;
    window.localStorage.setItem(STORED_LANGUAGE, code);
    applyLanguage();
  }

  // ---- the phone --------------------------------------------------------------

  function normalisePhone(raw) {
    let value = raw.replace(/[\s.\-()]/g, "");
    if (value.startsWith("00")) value = "+" + value.slice(2);
    if (/^0[5-7]\d{8}$/.test(value)) value = "+212" + value.slice(1);
    if (/^\d+$/.test(value)) value = "+" + value;
    return /^\+\d{8,15}$/.test(value) ? value : null;
  }

  function currentPhone() {
    const chosen = $("phone-select").value;
    return chosen || normalisePhone($("phone-other").value);
  }

  function render() {
    $("voice-panel").hidden = mode !== "voice";
    $("dial").textContent = t(mode === "voice" ? "call" : "dial");
    for (const radio of document.querySelectorAll("input[name=mode]")) radio.disabled = Boolean(session || call);
    if (mode === "voice") {
      renderCall();
      return;
    }
    const screen = $("screen");
    const text = $("screen-text");
    const state = $("screen-state");
    $("screen-phone").textContent = session ? session.phone : currentPhone() || "";
    screen.dataset.state = session ? (session.busy ? "busy" : "active") : ended ? "ended" : "idle";
    if (session && session.busy) {
      text.textContent = t("waiting");
      state.textContent = "";
    } else if (session) {
      text.textContent = session.screen;
      state.textContent = "";
    } else if (ended) {
      text.textContent = ended.text;
      state.textContent = t(ended.note);
    } else {
      text.textContent = t("idle");
      state.textContent = "";
    }
    $("screen-input").textContent = buffer;
    $("key-send").textContent = t(ended && !session ? "ok" : "send");
    // A phone cannot change its number or network in the middle of a call.
    for (const id of ["phone-select", "phone-other", "service-code", "network-code", "dial"]) {
      $(id).disabled = Boolean(session);
    }
  }

  function randomSessionId() {
    const bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return "ATUid_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // `*4242*2#` typed on the keypad: AT sends serviceCode *4242# and the rest as inputs.
  function dialString() {
    const typed = buffer.match(/^\*(\d+)((?:\*[0-9]*)*)#$/);
    if (typed) {
      return { code: "*" + typed[1] + "#", inputs: typed[2] ? typed[2].slice(1).split("*") : [] };
    }
    return { code: $("service-code").value.trim(), inputs: [] };
  }

  function dial() {
    if (session) return;
    const phone = currentPhone();
    if (!phone) {
      ended = { text: t("bad_phone"), note: "session_over" };
      render();
      return;
    }
    const { code, inputs } = dialString();
    if (!SERVICE_CODE.test(code)) return;
    ended = null;
    buffer = "";
    session = {
      id: randomSessionId(),
      phone: phone,
      serviceCode: code,
      networkCode: $("network-code").value,
      inputs: inputs,
      started: Date.now(),
      hops: 0,
      lastResponse: "",
      screen: "",
      busy: false,
    };
    refreshSms();
    hop();
  }

  async function hop() {
    const current = session;
    current.busy = true;
    current.hops += 1;
    render();
    const form = new URLSearchParams({
      sessionId: current.id,
      serviceCode: current.serviceCode,
      phoneNumber: current.phone,
      networkCode: current.networkCode,
      text: current.inputs.join("*"),
    });
    let status = 0;
    let body = "";
    try {
      const response = await fetch(config.hopUrl, { method: "POST", body: form });
      status = response.status;
      body = await response.text();
    } catch (error) {
      body = String(error);
    }
    if (session !== current) return; // hung up while waiting: the answer reaches no one
    current.busy = false;
    current.lastResponse = body;
    if (status === 200 && body.startsWith("CON ")) {
      current.screen = body.slice(4);
      render();
    } else if (status === 200 && body.startsWith("END ")) {
      finish("Success", { text: body.slice(4), note: "session_over" }, "");
    } else {
      // What AT does with anything else: the phone shows an error, the session is over.
      finish("Failed", { text: t("network_error"), note: "session_over" }, ("HTTP " + status + " " + body).slice(0, 200));
    }
    refreshSms();
  }

  function finish(status, screen, errorMessage) {
    const over = session;
    session = null;
    ended = screen;
    buffer = "";
    render();
    notifyEnd(over, status, errorMessage);
  }

  function notifyEnd(over, status, errorMessage) {
    const form = new URLSearchParams({
      sessionId: over.id,
      phoneNumber: over.phone,
      serviceCode: over.serviceCode,
      networkCode: over.networkCode,
      status: status,
      durationInMillis: String(Date.now() - over.started),
      hopsCount: String(over.hops),
      input: over.inputs.length ? over.inputs[over.inputs.length - 1] : "",
      lastAppResponse: over.lastResponse,
      errorMessage: errorMessage,
      cost: "MAD 0.0000",
      date: new Date().toISOString().slice(0, 19).replace("T", " "),
    });
    return fetch(config.eventsUrl, { method: "POST", body: form })
      .catch(() => undefined)
      .finally(() => {
        document.body.dataset.lastEvent = over.id + ":" + status;
      });
  }

  // ---- voice mode ---------------------------------------------------------------

  function renderCall() {
    const screen = $("screen");
    $("screen-phone").textContent = call ? call.phone + " → " + config.voiceNumber : currentPhone() || "";
    screen.dataset.state = call ? (call.busy ? "busy" : "active") : ended ? "ended" : "idle";
    $("screen-text").textContent = call
      ? t(call.busy ? "voice_calling" : "voice_listen")
      : ended
        ? t(ended.note)
        : t("voice_idle");
    $("screen-state").textContent = "";
    $("screen-input").textContent = call ? call.keys : "";
    $("key-send").textContent = t("call");
    for (const id of ["phone-select", "phone-other", "service-code", "network-code", "dial"]) {
      $(id).disabled = Boolean(call);
    }
  }

  function transcriptLine(kind, text, extra) {
    const item = document.createElement("li");
    item.className = kind;
    item.dir = "auto";
    const said = document.createElement("span");
    said.className = "text";
    said.textContent = text;
    item.append(said);
    Object.assign(item.dataset, extra || {});
    $("transcript").append(item);
    $("transcript-empty").hidden = true;
    item.scrollIntoView({ block: "nearest" });
    return item;
  }

  function callFields(current) {
    return {
      isActive: "1",
      sessionId: current.id,
      direction: "Inbound",
      callerNumber: current.phone,
      destinationNumber: config.voiceNumber,
    };
  }

  function startCall() {
    if (call || session) return;
    const phone = currentPhone();
    if (!phone) {
      ended = { text: t("bad_phone"), note: "bad_phone" };
      render();
      return;
    }
    ended = null;
    $("transcript").replaceChildren();
    call = {
      id: randomSessionId().replace("ATUid_", "ATVId_"),
      phone: phone,
      started: Date.now(),
      keys: "",
      digits: null,
      redirect: null,
      timer: null,
      replies: 0,
      busy: false,
    };
    document.body.dataset.voiceReplies = "0";
    refreshSms();
    postCall(config.voiceUrl, {});
  }

  function quiet(current) {
    window.clearTimeout(current.timer);
    current.timer = null;
    if (stopPlaying) stopPlaying();
    const audio = $("voice-audio");
    audio.pause();
    audio.removeAttribute("src");
    document.querySelectorAll("#transcript .playing").forEach((node) => node.classList.remove("playing"));
  }

  async function postCall(url, extra) {
    const current = call;
    quiet(current);
    current.digits = null;
    current.redirect = null;
    current.keys = "";
    current.busy = true;
    render();
    let reply = null;
    try {
      const response = await fetch(url, { method: "POST", body: new URLSearchParams({ ...callFields(current), ...extra }) });
      reply = parseReply(await response.text());
    } catch (error) {
      reply = null;
    }
    if (call !== current) return; // hung up meanwhile
    if (!reply || reply.rejected) {
      endCall(reply ? "voice_ended" : "network_error");
      return;
    }
    await follow(current, reply);
  }

  // The actions of AT's XML we follow: the prompts in order (Play, Say, inside GetDigits
  // or not), the GetDigits' attributes, the Redirect, a Reject.
  function parseReply(body) {
    const doc = new DOMParser().parseFromString(body, "application/xml");
    const root = doc.documentElement;
    if (doc.getElementsByTagName("parsererror").length || root.tagName !== "Response") return null;
    const reply = { prompts: [], digits: null, redirect: null, rejected: false };
    const prompt = (node) => {
      if (node.tagName === "Play") reply.prompts.push({ url: node.getAttribute("url") });
      else if (node.tagName === "Say") reply.prompts.push({ say: node.textContent.trim() });
    };
    for (const node of root.children) {
      if (node.tagName === "GetDigits") {
        reply.digits = {
          callbackUrl: node.getAttribute("callbackUrl"),
          timeout: Number(node.getAttribute("timeout") || "5"),
          numDigits: node.hasAttribute("numDigits") ? Number(node.getAttribute("numDigits")) : null,
          finishOnKey: node.getAttribute("finishOnKey") || "#",
        };
        Array.from(node.children).forEach(prompt);
      } else if (node.tagName === "Redirect") {
        reply.redirect = node.textContent.trim();
      } else if (node.tagName === "Reject") {
        reply.rejected = true;
      } else {
        prompt(node);
      }
    }
    return reply;
  }

  function audioKey(url) {
    return new URL(url, window.location.href).pathname.split("/").pop().replace(/\.wav$/, "");
  }

  async function follow(current, reply) {
    const keys = reply.prompts.filter((p) => p.url).map((p) => audioKey(p.url));
    let clips = {};
    try {
      const query = keys.map((key) => "key=" + encodeURIComponent(key)).join("&");
      const response = await fetch(config.clipsUrl + "?" + query);
      if (response.ok) clips = (await response.json()).clips;
    } catch (error) {
      // Without transcripts, the audio still plays.
    }
    if (call !== current) return;
    transcriptLine("turn", "");
    const queue = reply.prompts.map((p) => {
      if (!p.url) return { line: transcriptLine("say", p.say, { source: "say" }), audio: null };
      const key = audioKey(p.url);
      const clip = clips[key] || { text: key, language: "", source: "" };
      const line = transcriptLine("prompt", clip.text, { key: key, source: clip.source });
      if (clip.language) line.lang = clip.language;
      if (clip.source) {
        const source = document.createElement("span");
        source.className = "source";
        source.textContent = t("source_" + clip.source);
        line.append(source);
      }
      return { line: line, audio: clip.audio || p.url };
    });
    current.busy = false;
    current.digits = reply.digits;
    current.redirect = reply.redirect;
    current.replies += 1;
    current.turn = current.replies;
    document.body.dataset.voiceReplies = String(current.replies);
    render();
    const turn = current.turn;
    for (const item of queue) {
      if (call !== current || current.turn !== turn) return; // a key answered, or hung up
      if (item.audio) await play(item);
    }
    if (call !== current || current.turn !== turn) return;
    afterPrompts(current);
  }

  // One prompt's audio, to its end (or its failure: the next one plays). `stopPlaying`
  // ends it early (a key pressed, the call over).
  let stopPlaying = null;

  function play(item) {
    const audio = $("voice-audio");
    return new Promise((resolve) => {
      let guard = null;
      let over = false;
      const done = (played) => {
        if (over) return;
        over = true;
        stopPlaying = null;
        window.clearTimeout(guard);
        audio.onended = audio.onerror = audio.onloadedmetadata = null;
        item.line.classList.remove("playing");
        if (played) item.line.dataset.played = "true";
        resolve();
      };
      stopPlaying = () => done(false);
      audio.onended = () => done(true);
      audio.onerror = () => done(false);
      audio.onloadedmetadata = () => {
        window.clearTimeout(guard);
        guard = window.setTimeout(() => done(false), (audio.duration || 10) * 1000 + 2000);
      };
      guard = window.setTimeout(() => done(false), 15000);
      item.line.classList.add("playing");
      audio.src = item.audio;
      audio.play().catch(() => done(false));
    });
  }

  // Every prompt said: wait for keys (the silence timeout), or the call is over.
  function afterPrompts(current) {
    if (current.digits) {
      current.timer = window.setTimeout(() => timedOut(current), current.digits.timeout * 1000);
    } else if (current.redirect) {
      postCall(current.redirect, {});
    } else {
      endCall("voice_ended"); // nothing left to do: AT hangs up
    }
  }

  function timedOut(current) {
    if (call !== current) return;
    if (current.keys) {
      answerKeys(current); // what was typed goes, as AT posts it at the timeout
    } else if (current.redirect) {
      transcriptLine("caller", t("silence"));
      postCall(current.redirect, {});
    } else {
      endCall("voice_ended");
    }
  }

  function answerKeys(current) {
    const keys = current.keys;
    transcriptLine("caller", t("you_pressed").replace("{key}", keys), { keys: keys });
    postCall(current.digits.callbackUrl, { dtmfDigits: keys });
  }

  function voicePress(key) {
    const current = call;
    if (!current || current.busy || !current.digits) return; // AT takes keys only while it asks for them
    quiet(current); // a key stops the prompt, as on AT
    current.turn = -1;
    const digits = current.digits;
    if (key === digits.finishOnKey && digits.numDigits === null) {
      if (current.keys) answerKeys(current);
      return;
    }
    current.keys += key;
    render();
    if (digits.numDigits !== null && current.keys.length >= digits.numDigits) {
      answerKeys(current);
    } else {
      current.timer = window.setTimeout(() => timedOut(current), digits.timeout * 1000);
    }
  }

  function endCall(note) {
    const over = call;
    if (!over) return;
    quiet(over);
    call = null;
    ended = { text: "", note: note };
    transcriptLine("turn", "");
    transcriptLine("caller", t(note));
    render();
    const form = new URLSearchParams({
      ...callFields(over),
      isActive: "0",
      durationInSeconds: String(Math.round((Date.now() - over.started) / 1000)),
      currencyCode: "MAD",
      amount: "0.00",
    });
    return fetch(config.voiceUrl, { method: "POST", body: form })
      .catch(() => undefined)
      .finally(() => {
        document.body.dataset.lastEvent = over.id + ":ended";
        refreshSms();
      });
  }

  function setMode(value) {
    if (session || call) return;
    mode = value;
    ended = null;
    buffer = "";
    render();
  }

  // ---- keys -------------------------------------------------------------------

  function press(key) {
    if (mode === "voice") {
      voicePress(key);
      return;
    }
    if (ended && !session) {
      ended = null; // as on a phone, the first key only puts the last screen away
      render();
      return;
    }
    if (session && session.busy) return;
    buffer += key;
    render();
  }

  function send() {
    if (mode === "voice") {
      if (!call) startCall();
      return;
    }
    if (session) {
      if (session.busy) return;
      session.inputs.push(buffer);
      buffer = "";
      hop();
    } else if (ended) {
      ended = null; // OK on the last screen
      render();
    } else {
      dial();
    }
  }

  function erase() {
    if (mode === "voice") return;
    buffer = buffer.slice(0, -1);
    render();
  }

  function hangUp() {
    if (mode === "voice") {
      if (call) endCall("voice_ended");
      return;
    }
    if (session) {
      finish("Incomplete", { text: t("hung_up"), note: "session_over" }, "");
    } else {
      ended = null;
      buffer = "";
      render();
    }
  }

  function onKeyDown(event) {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^[0-9*#]$/.test(event.key)) {
      press(event.key);
    } else if (event.key === "Enter") {
      send();
    } else if (event.key === "Backspace") {
      erase();
    } else if (event.key === "Escape") {
      hangUp();
    } else {
      return;
    }
    event.preventDefault();
  }

  // ---- SMS panel --------------------------------------------------------------

  function renderSms(messages) {
    const list = $("sms-list");
    list.replaceChildren();
    for (const message of messages) {
      const item = document.createElement("li");
      item.className = "sms-item state-" + message.state;
      item.dataset.id = String(message.id);
      const body = document.createElement("p");
      body.className = "sms-body";
      body.dir = "auto";
      body.textContent = message.body;
      const meta = document.createElement("p");
      meta.className = "sms-meta";
      const time = document.createElement("time");
      time.dateTime = message.created_at;
      time.dir = "ltr";
      time.textContent = message.local_time;
      const state = document.createElement("span");
      state.className = "sms-state";
      state.textContent = t("state_" + message.state);
      meta.append(time, " · ", state);
      item.append(body, meta);
      list.append(item);
    }
    $("sms-empty").hidden = messages.length > 0;
  }

  async function refreshSms() {
    const phone = session ? session.phone : call ? call.phone : currentPhone();
    if (!phone) {
      lastSms = "";
      renderSms([]);
      return;
    }
    try {
      const response = await fetch(config.smsUrl + "?phone=" + encodeURIComponent(phone));
      if (!response.ok) return;
      const data = await response.json();
      const current = session ? session.phone : call ? call.phone : currentPhone();
      if (data.phone !== current) return; // the phone changed meanwhile
      const seen = JSON.stringify(data.messages);
      if (seen !== lastSms) {
        lastSms = seen;
        renderSms(data.messages);
      }
    } catch (error) {
      // The next poll tries again.
    }
  }

  function phoneChanged() {
    lastSms = "";
    renderSms([]);
    render();
    refreshSms();
  }

  // ---- wiring -----------------------------------------------------------------

  $("keypad").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.key) press(button.dataset.key);
    else if (button.dataset.action === "send") send();
    else if (button.dataset.action === "clear") erase();
    else if (button.dataset.action === "hangup") hangUp();
  });
  $("dial").addEventListener("click", () => {
    if (ended) ended = null;
    if (mode === "voice") startCall();
    else dial();
  });
  document.querySelectorAll("input[name=mode]").forEach((radio) => {
    radio.addEventListener("change", () => setMode(radio.value));
  });
  document.querySelectorAll("[data-lang]").forEach((button) => {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  });
  $("phone-select").addEventListener("change", phoneChanged);
  $("phone-other").addEventListener("input", () => {
    $("phone-select").value = "";
    phoneChanged();
  });
  document.addEventListener("keydown", onKeyDown);

  applyLanguage();
  refreshSms();
  window.setInterval(refreshSms, SMS_EVERY_MS);
})();
