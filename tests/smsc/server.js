// The test SMSC: the npm package `smpp` (0.5.1), a maintained SMPP 3.4 server we did not write.
// Usage: node server.js --port 2775 --control 2776 --system-id hirfa --password secret
// It checks binds (wrong system_id/password -> ESME_RBINDFAIL), answers submit_sm with a
// message_id, prints every PDU it receives as a JSON line on stdout, and obeys a control
// port on 127.0.0.1:
//   GET  /pdus                         every PDU received so far (JSON array)
//   POST /throttle?n=N                 the next N submit_sm get ESME_RTHROTTLED
//   POST /hold                         submit_sm from now on are recorded, never answered
//                                      (in flight when the drill kills this SMSC)
//   POST /receipt?id=ID&stat=DELIVRD   a delivery receipt deliver_sm for message ID
//   POST /deliver?from=MSISDN&text=T   an incoming SMS (UCS-2 when T is not ASCII)
//   POST /ussd?from=MSISDN&text=T&op=1&session=HEX   a USSD indication (ussd_service_op,
//                                      its_session_info as 4 hex digits when given)
// submit_sm carrying ussd_service_op are recorded with it and its_session_info (hex).
'use strict';
const http = require('http');
const smpp = require('smpp');

function option(name, fallback) {
  const at = process.argv.indexOf('--' + name);
  return at > 0 ? process.argv[at + 1] : (process.env['SMSC_' + name.toUpperCase().replace('-', '_')] || fallback);
}
const port = Number(option('port', '2775'));
const controlPort = Number(option('control', '2776'));
const systemId = option('system-id', 'hirfa');
const password = option('password', 'secret');

const received = [];
let throttle = 0;
let hold = false;
let nextId = 1;
const sessions = new Set();
const submitted = new Map(); // message_id -> destination_addr

function record(kind, pdu, extra) {
  const entry = {kind, command: pdu.command, sequence_number: pdu.sequence_number, ...extra};
  for (const key of ['system_id', 'system_type', 'source_addr', 'source_addr_ton', 'destination_addr',
                     'esm_class', 'data_coding', 'registered_delivery', 'command_status']) {
    if (pdu[key] !== undefined) entry[key] = pdu[key];
  }
  if (pdu.ussd_service_op !== undefined) entry.ussd_service_op = pdu.ussd_service_op;
  if (pdu.its_session_info !== undefined) entry.its_session_info = Buffer.from(pdu.its_session_info).toString('hex');
  if (pdu.short_message !== undefined) {
    const sm = pdu.short_message;
    entry.udh = (sm.udh || []).map((b) => Buffer.from(b).toString('hex'));
    entry.message = Buffer.isBuffer(sm.message) ? sm.message.toString('hex') : sm.message;
  }
  received.push(entry);
  process.stdout.write(JSON.stringify(entry) + '\n');
}

const server = smpp.createServer((session) => {
  session.socket.setNoDelay(true);  // as an SMSC should: PDUs are small and answered at once
  let bound = false;
  const bind = (pdu) => {
    const accepted = pdu.system_id === systemId && pdu.password === password;
    record('bind', pdu);
    received[received.length - 1].accepted = accepted;
    if (!accepted) {
      session.send(pdu.response({command_status: smpp.ESME_RBINDFAIL}));
      return;
    }
    bound = true;
    sessions.add(session);
    session.send(pdu.response({system_id: 'hirfa-test-smsc'}));
  };
  session.on('bind_transceiver', bind);
  session.on('bind_transmitter', bind);
  session.on('submit_sm', (pdu) => {
    record('submit', pdu, hold && bound ? {held: true} : {});
    if (!bound) return session.send(pdu.response({command_status: smpp.ESME_RINVBNDSTS}));
    if (hold) return undefined;
    if (throttle > 0) {
      throttle -= 1;
      return session.send(pdu.response({command_status: smpp.ESME_RTHROTTLED}));
    }
    const id = 'smsc-' + nextId++;
    submitted.set(id, pdu.destination_addr);
    session.send(pdu.response({message_id: id}));
  });
  session.on('enquire_link', (pdu) => { record('enquire_link', pdu); session.send(pdu.response()); });
  session.on('unbind', (pdu) => { record('unbind', pdu); session.send(pdu.response()); session.close(); });
  session.on('deliver_sm_resp', (pdu) => record('deliver_sm_resp', pdu));
  session.on('close', () => sessions.delete(session));
  session.on('error', () => sessions.delete(session));
});

function deliver(fields) {
  for (const session of sessions) session.deliver_sm(fields);
  return sessions.size;
}

const control = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const q = url.searchParams;
  let answer = {ok: true};
  if (req.method === 'GET' && url.pathname === '/pdus') {
    answer = received;
  } else if (url.pathname === '/throttle') {
    throttle = Number(q.get('n') || '1');
  } else if (url.pathname === '/hold') {
    hold = true;
  } else if (url.pathname === '/receipt') {
    const id = q.get('id');
    const stat = q.get('stat') || 'DELIVRD';
    const err = stat === 'DELIVRD' ? '000' : '001';
    const text = `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:2612031100 ` +
      `done date:2612031101 stat:${stat} err:${err} text:`;
    answer.sessions = deliver({source_addr: submitted.get(id) || '212600000000', destination_addr: 'HIRFA',
                               esm_class: 0x04, short_message: text});
  } else if (url.pathname === '/deliver') {
    const text = q.get('text') || '';
    const ascii = /^[\x00-\x7f]*$/.test(text);
    answer.sessions = deliver({source_addr: q.get('from'), destination_addr: q.get('to') || '4242',
                               source_addr_ton: 1, data_coding: ascii ? 0 : 8,
                               short_message: ascii ? text : Buffer.from(text, 'utf16le').swap16()});
  } else if (url.pathname === '/ussd') {
    const text = q.get('text') || '';
    const ascii = /^[\x00-\x7f]*$/.test(text);
    const fields = {source_addr: q.get('from'), destination_addr: q.get('to') || '4242', source_addr_ton: 1,
                    data_coding: ascii ? 0 : 8, ussd_service_op: Number(q.get('op') || '1'),
                    short_message: ascii ? text : Buffer.from(text, 'utf16le').swap16()};
    if (q.get('session')) fields.its_session_info = Buffer.from(q.get('session'), 'hex');
    answer.sessions = deliver(fields);
  } else {
    res.writeHead(404);
    return res.end('{}');
  }
  res.writeHead(200, {'content-type': 'application/json'});
  res.end(JSON.stringify(answer));
});

server.listen(port, '127.0.0.1', () => {
  control.listen(controlPort, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({kind: 'ready', port, control: controlPort}) + '\n');
  });
});
