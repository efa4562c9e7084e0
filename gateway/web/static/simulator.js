// Hirfa's phone simulator: one USSD session at a time, spoken exactly as Africa's
// Talking speaks to the gateway (form POSTs, `text` = every input joined by `*`),
// plus the end-of-session notification AT sends when a session is over.
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

  // ---- keys -------------------------------------------------------------------

  function press(key) {
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
    buffer = buffer.slice(0, -1);
    render();
  }

  function hangUp() {
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
    const phone = session ? session.phone : currentPhone();
    if (!phone) {
      lastSms = "";
      renderSms([]);
      return;
    }
    try {
      const response = await fetch(config.smsUrl + "?phone=" + encodeURIComponent(phone));
      if (!response.ok) return;
      const data = await response.json();
      const current = session ? session.phone : currentPhone();
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
    dial();
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
