// The owner portal of rest_hooks: plain JavaScript against the hooks API it is served beside.
// Everything the API answers is shown with textContent: targets and response excerpts come from
// other people's servers.
'use strict';

(() => {
  const base = location.pathname.replace(/\/portal$/, '');
  const TOKEN = 'rest_hooks.portal.token';
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';

  // What the page keeps of the signed-in owner besides the page itself. forgetOwner drops it all,
  // with every owner's datum on the page, when the credentials change or the API answers 401.
  let selected = null; // the hook whose attempts are shown
  let stats = null; // the last `GET /stats`, drawn again when the window is resized
  let epoch = 0; // bumped by forgetOwner: answers to requests made before are thrown away
  // The application's own hook fields, from the API's description: [{ name, type }].
  let fields = [];
  const API_FIELDS = new Set(['event', 'target', 'target_url', 'subscription_url']);

  // An answer to a request made under earlier credentials: dropped without a word.
  class Stale extends Error {}

  // The API, relative to this page: the session cookie goes along, and the token when one is set.
  async function api(method, path, body) {
    const asked = epoch;
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN);
    if (token) headers.Authorization = 'Bearer ' + token;
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(base + path, init);
    const text = await response.text();
    if (asked !== epoch) throw new Stale('an answer for other credentials');
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!response.ok) {
      if (response.status === 401) forgetOwner();
      const error = new Error((data && data.message) || response.status + ' ' + response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // Clears everything of the owner: hooks, attempts, chart, secrets, messages, and the variables
  // behind them. Requests still under way are answered into the void.
  function forgetOwner() {
    epoch += 1;
    selected = null;
    stats = null;
    hideSecret();
    for (const id of ['hooks', 'attempts', 'chart', 'outcome', 'detail-id', 'event', 'create-note', 'hooks-note']) {
      $(id).replaceChildren();
    }
    for (const id of ['detail', 'no-hooks', 'no-attempts']) $(id).hidden = true;
    $('target').value = '';
    say('');
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  // A table cell, labelled for the narrow layout where rows become cards.
  function cell(label, text, className) {
    const node = el('td', text, className);
    node.dataset.label = label;
    return node;
  }

  function plural(count, one, many) {
    return count + ' ' + (count === 1 ? one : many);
  }

  function say(message, isError) {
    $('status').textContent = message || '';
    $('status').className = isError ? 'error' : '';
  }

  // Shows `error` in `where` (an element, or a function giving one), beside what caused it.
  function failed(error, where) {
    if (error instanceof Stale) return;
    if (error.status === 401) {
      say('Not signed in: log in to the application, or paste an API token above.', true);
      return;
    }
    const note = typeof where === 'function' ? where() : where;
    if (note) note.replaceChildren(el('span', error.message, 'error'));
    else say(error.message, true);
  }

  // Starts an action of the owner: the secret an earlier one showed, and earlier messages, go;
  // an error is written where `where` says.
  function act(where, action) {
    hideSecret();
    for (const note of document.querySelectorAll('#hooks tr.note')) note.remove();
    $('create-note').replaceChildren();
    $('hooks-note').replaceChildren();
    if ($('status').className === 'error') say('');
    action().catch((error) => failed(error, where));
  }

  function button(text, className, onClick) {
    const node = el('button', text, className);
    node.type = 'button';
    node.addEventListener('click', onClick);
    return node;
  }

  // The row of hook `id`, if it is shown.
  function rowOf(id) {
    return [...$('hooks').children].find((row) => row.dataset.hook === id) || null;
  }

  // The cell under hook `id`'s row for its messages, confirmations and secret; made when missing.
  function noteOf(id) {
    const row = rowOf(id);
    if (row === null) return $('hooks-note');
    let note = row.nextElementSibling;
    if (!note || note.dataset.note !== id) {
      note = el('tr', null, 'note');
      note.dataset.note = id;
      const td = el('td');
      td.colSpan = row.children.length;
      note.append(td);
      row.after(note);
    }
    return note.firstChild;
  }

  // An action on hook `id`, its errors shown under the hook's row.
  function onHook(id, action) {
    return () => act(() => noteOf(id), action);
  }

  // Asks under hook `id`'s row before `action`: `yes` does it, Cancel does not.
  function ask(id, question, yes, action) {
    noteOf(id).replaceChildren(
      el('span', question),
      button(yes, 'danger yes', onHook(id, action)),
      button('Cancel', 'cancel', () => act(() => noteOf(id), async () => {})),
    );
  }

  function time(iso) {
    const at = new Date(iso);
    return isNaN(at) ? String(iso) : at.toLocaleString();
  }

  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function isOk(status) {
    return typeof status === 'number' && status >= 200 && status < 300;
  }

  async function loadEvents() {
    const list = await api('GET', '/events');
    const select = $('event');
    select.replaceChildren();
    for (const event of list.events) {
      const option = el('option', event.name);
      option.value = event.name;
      select.append(option);
    }
  }

  // The application's own hook fields: the properties of the create body's schema that are not the
  // API's own, each an input of its JSON type in the create form and on every hook.
  async function loadFields() {
    const response = await fetch(base + '/openapi.json', { cache: 'no-store' });
    const document_ = response.ok ? await response.json() : {};
    const schemas = (document_.components && document_.components.schemas) || {};
    // The create body's object: the schema itself, or the object of an `allOf` beside a rule.
    const subscribe = schemas.Subscribe || {};
    const object = subscribe.properties ? subscribe : (subscribe.allOf || []).find((part) => part.properties) || {};
    const properties = object.properties || {};
    fields = Object.entries(properties)
      .filter(([name]) => !API_FIELDS.has(name))
      .map(([name, schema]) => ({ name, type: [].concat(schema.type).find((type) => type !== 'null') || 'string' }));
    $('create-fields').replaceChildren(...fields.map((field) => fieldInput(field, null)));
    $('fields-head').hidden = fields.length === 0;
  }

  function fieldInput(field, value) {
    const input = el('input');
    input.dataset.field = field.name;
    input.setAttribute('aria-label', field.name);
    input.placeholder = field.name;
    if (field.type === 'boolean') {
      input.type = 'checkbox';
      input.checked = value === true;
    } else {
      input.type = field.type === 'integer' || field.type === 'number' ? 'number' : 'text';
      if (field.type === 'integer') input.step = '1';
      input.value = value === null || value === undefined ? '' : String(value);
    }
    return input;
  }

  // The values of the field inputs in `container`: an empty one is left out, or sent as null when
  // `emptyIsNull` (a change clears it).
  function fieldValues(container, emptyIsNull) {
    const values = {};
    for (const input of container.querySelectorAll('input[data-field]')) {
      const field = fields.find((known) => known.name === input.dataset.field);
      if (!field) continue;
      if (field.type === 'boolean') values[field.name] = input.checked;
      else if (input.value.trim() === '') { if (emptyIsNull) values[field.name] = null; }
      else values[field.name] = field.type === 'string' ? input.value : Number(input.value);
    }
    return values;
  }

  async function saveFields(id, container) {
    await api('PATCH', '/' + encodeURIComponent(id), fieldValues(container, true));
    await loadHooks();
    noteOf(id).replaceChildren(el('span', 'Hook ' + id + ' saved.', 'done'));
  }

  async function loadHooks() {
    const hooks = [];
    let after = null;
    for (;;) {
      const query = '?limit=100' + (after === null ? '' : '&starting_after=' + encodeURIComponent(after));
      const page = await api('GET', query);
      hooks.push(...page.hooks);
      if (!page.has_more || page.hooks.length === 0) break;
      after = String(page.hooks[page.hooks.length - 1].id);
    }
    $('hooks').replaceChildren(...hooks.map(hookRow));
    $('no-hooks').hidden = hooks.length > 0;
    if (selected !== null && !hooks.some((hook) => String(hook.id) === selected)) {
      selected = null;
      $('detail').hidden = true;
      $('attempts').replaceChildren();
      $('outcome').replaceChildren();
    }
  }

  function hookRow(hook) {
    const id = String(hook.id);
    const row = el('tr');
    row.dataset.hook = id;
    if (id === selected) row.className = 'selected';
    const state = hook.active
      ? el('span', 'active', 'ok')
      : el('span', 'off' + (hook.disabled_reason ? ': ' + hook.disabled_reason : ''), 'off');
    const actions = cell('actions', null, 'actions');
    actions.append(
      button('Attempts', 'attempts', onHook(id, () => showAttempts(id))),
      button('Send test', 'test', onHook(id, () => sendTest(id))),
      button('Replay failed', 'replay', onHook(id, () => replayFailed(id))),
      button('Rotate secret', 'rotate', onHook(id, async () => ask(
        id, 'Give hook ' + id + ' a new signing secret? The old one keeps signing for a while.', 'Rotate',
        () => rotate(id),
      ))),
      button(hook.active ? 'Turn off' : 'Turn on', 'toggle', onHook(id, () => toggle(id, !hook.active))),
      button('Delete', 'delete danger', onHook(id, async () => ask(
        id, 'Delete hook ' + id + '? Its deliveries waiting for a retry are dropped.', 'Delete', () => remove(id),
      ))),
    );
    const stateCell = cell('state');
    stateCell.append(state);
    if (hook.ordered) {
      const why = hook.ordered_by === 'event' ? 'in order: every hook of this event' : 'in order';
      stateCell.append(el('span', ' · ' + why, 'ordered'));
    }
    row.append(cell('id', id), cell('event', hook.event), cell('target', hook.target, 'target'), stateCell);
    if (fields.length > 0) {
      const own = cell('fields', null, 'fields');
      for (const field of fields) {
        const label = el('label', field.name + ' ');
        label.append(fieldInput(field, hook[field.name]));
        own.append(label);
      }
      own.append(button('Save', 'save-fields', onHook(id, () => saveFields(id, own))));
      row.append(own);
    }
    row.append(actions);
    return row;
  }

  async function showAttempts(id) {
    if (selected !== id) $('outcome').textContent = '';
    selected = id;
    for (const row of $('hooks').children) row.classList.toggle('selected', row.dataset.hook === id);
    await loadAttempts();
  }

  async function loadAttempts() {
    if (selected === null) return;
    const id = selected;
    const list = await api('GET', '/' + encodeURIComponent(id) + '/attempts?limit=50');
    if (id !== selected) return;
    $('detail-id').textContent = id;
    $('detail').hidden = false;
    $('attempts').replaceChildren(...list.attempts.map(attemptRow));
    $('no-attempts').hidden = list.attempts.length > 0;
  }

  function attemptRow(attempt) {
    const row = el('tr');
    row.dataset.delivery = attempt.delivery;
    const ok = isOk(attempt.status);
    const outcome = attempt.status !== null && attempt.status !== undefined
      ? String(attempt.status)
      : (attempt.error_kind || 'error');
    row.append(
      cell('time', time(attempt.at)),
      cell('attempt', attempt.attempt),
      cell('outcome', outcome, ok ? 'ok' : 'failed'),
      cell('duration', attempt.duration_ms + ' ms'),
      cell('response', attempt.response || attempt.error || '', 'excerpt'),
    );
    return row;
  }

  async function sendTest(id) {
    await showAttempts(id);
    $('outcome').textContent = 'Sending a test…';
    const test = await api('POST', '/' + encodeURIComponent(id) + '/test');
    const what = test.status !== null && test.status !== undefined ? 'status ' + test.status : (test.error || test.error_kind);
    $('outcome').replaceChildren(
      el('span', test.delivered ? 'Test delivered' : 'Test failed', test.delivered ? 'ok' : 'failed'),
      el('span', ': ' + what + ', ' + test.duration_ms + ' ms' + (test.response ? ' — ' + test.response : '')),
    );
  }

  // Sends the dead deliveries again, and says how many others still wait for a scheduled retry:
  // those are not dead, so a replay leaves them to their schedule.
  async function replayFailed(id) {
    const answer = await api('POST', '/' + encodeURIComponent(id) + '/replay');
    await showAttempts(id);
    const parts = [answer.replayed > 0
      ? plural(answer.replayed, 'failed delivery', 'failed deliveries') + ' sent again'
      : 'No failed delivery to send again'];
    if (answer.waiting > 0) {
      parts.push(plural(answer.waiting, 'delivery is', 'deliveries are') + ' still waiting for a retry'
        + (answer.next_retry_at ? ', the next at ' + time(answer.next_retry_at) : ''));
    }
    noteOf(id).replaceChildren(el('span', parts.join('; ') + '.'));
  }

  async function rotate(id) {
    const hook = await api('POST', '/' + encodeURIComponent(id) + '/rotate-secret');
    showSecret(noteOf(id), 'New secret of hook ' + id + ' — shown only now, copy it:', hook.secret);
  }

  async function toggle(id, active) {
    await api('PATCH', '/' + encodeURIComponent(id), { active });
    await loadHooks();
    noteOf(id).replaceChildren(el('span', 'Hook ' + id + (active ? ' turned on.' : ' turned off.')));
  }

  async function remove(id) {
    await api('DELETE', '/' + encodeURIComponent(id));
    await loadHooks();
    $('hooks-note').replaceChildren(el('span', 'Hook ' + id + ' deleted.', 'done'));
  }

  // Shows a signing secret once, in `where`; hideSecret (or the next action) removes it.
  function showSecret(where, label, secret) {
    hideSecret();
    const box = el('div', null, 'notice');
    box.id = 'secret';
    const text = el('span', label);
    text.id = 'secret-label';
    const value = el('code', secret || '(this server signs with a secret of its own)');
    value.id = 'secret-value';
    const dismiss = button('I have saved it', null, hideSecret);
    dismiss.id = 'secret-dismiss';
    box.append(text, value, dismiss);
    where.append(box);
  }

  function hideSecret() {
    const box = $('secret');
    if (box === null) return;
    box.replaceChildren();
    box.remove();
  }

  async function create() {
    const body = Object.assign({ event: $('event').value, target: $('target').value }, fieldValues($('create-fields'), false));
    const hook = await api('POST', '', body);
    $('target').value = '';
    for (const input of $('create-fields').querySelectorAll('input')) {
      if (input.type === 'checkbox') input.checked = false; else input.value = '';
    }
    await loadHooks();
    const note = $('create-note');
    note.replaceChildren(el('span', 'Hook ' + hook.id + ' created.', 'done'));
    showSecret(note, 'Signing secret of hook ' + hook.id + ' — shown only now, copy it:', hook.secret);
  }

  async function loadChart() {
    stats = await api('GET', '/stats');
    drawChart();
  }

  // A step of 1, 2 or 5 times a power of ten that divides 0..max in at most four.
  function tickStep(max) {
    if (max <= 4) return 1;
    const rough = max / 4;
    const power = 10 ** Math.floor(Math.log10(rough));
    return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= rough);
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The last day's attempts by hour and outcome, at the chart's own width so text is not stretched,
  // with a scale of attempts on the left.
  function drawChart() {
    if (stats === null) {
      $('chart').replaceChildren();
      return;
    }
    const hours = stats.hours;
    const width = Math.max(240, Math.round($('chart').clientWidth || 720));
    const height = 160, top = 8, bottom = 18, left = 34, right = 4;
    const counts = hours.map((hour) => hour.delivered + hour.failed);
    const step = tickStep(Math.max(0, ...counts));
    const ceiling = Math.max(step, Math.ceil(Math.max(0, ...counts) / step) * step);
    const plot = height - top - bottom;
    const y = (value) => top + plot - (value * plot) / ceiling;
    const total = counts.reduce((sum, count) => sum + count, 0);
    const chart = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'img' });
    chart.setAttribute('aria-label', plural(total, 'attempt', 'attempts') + ' in the last 24 hours');
    for (let value = 0; value <= ceiling; value += step) {
      chart.append(
        svg('line', { x1: left, x2: width - right, y1: y(value), y2: y(value), class: value === 0 ? 'axis' : 'grid' }),
        svg('text', { x: left - 5, y: y(value) + 3, 'text-anchor': 'end', class: 'y-tick' }, String(value)),
      );
    }
    const column = (width - left - right) / hours.length;
    const every = column < 16 ? 6 : 3;
    hours.forEach((hour, index) => {
      const x = left + index * column + 1;
      let barTop = y(0);
      for (const kind of ['delivered', 'failed']) {
        const h = (hour[kind] * plot) / ceiling;
        if (h <= 0) continue;
        barTop -= h;
        const bar = svg('rect', { class: kind, x, y: barTop, width: Math.max(1, column - 2), height: h });
        bar.append(svg('title', {}, clock(hour.start) + ': ' + hour[kind] + ' ' + kind));
        chart.append(bar);
      }
      if (index % every === 0) chart.append(svg('text', { x, y: height - 4 }, clock(hour.start)));
    });
    $('chart').replaceChildren(chart);
  }

  async function refresh() {
    await loadHooks();
    await Promise.all([loadAttempts(), loadChart()]);
  }

  async function start() {
    say('');
    await loadFields();
    await loadEvents();
    await refresh();
  }

  // New credentials (or none): nothing of the previous owner stays, then the page loads anew.
  function signIn(token) {
    forgetOwner();
    if (token) sessionStorage.setItem(TOKEN, token); else sessionStorage.removeItem(TOKEN);
    start().catch((error) => failed(error));
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('token').value = sessionStorage.getItem(TOKEN) || '';
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      signIn($('token').value.trim());
    });
    $('token-forget').addEventListener('click', () => {
      $('token').value = '';
      signIn('');
    });
    $('create').addEventListener('submit', (event) => {
      event.preventDefault();
      act($('create-note'), create);
    });
    $('refresh').addEventListener('click', () => act($('hooks-note'), refresh));
    window.addEventListener('resize', drawChart);
    setInterval(() => {
      if (document.visibilityState === 'visible' && selected !== null) {
        loadAttempts().catch((error) => { if (error.status === 401) failed(error); });
      }
    }, 5000);
    start().catch((error) => failed(error));
  });
})();
