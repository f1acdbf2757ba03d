// The owner portal of rest_hooks: plain JavaScript against the hooks API it is served beside.
// Everything the API answers is shown with textContent: targets and response excerpts come from
// other people's servers.
'use strict';

(() => {
  const base = location.pathname.replace(/\/portal$/, '');
  const TOKEN = 'rest_hooks.portal.token';
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  let selected = null;

  // The API, relative to this page: the session cookie goes along, and the token when one is set.
  async function api(method, path, body) {
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
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.message) || response.status + ' ' + response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function say(message, isError) {
    $('status').textContent = message || '';
    $('status').className = isError ? 'error' : '';
  }

  function failed(error) {
    if (error.status === 401) {
      say('Not signed in: log in to the application, or paste an API token above.', true);
    } else {
      say(error.message, true);
    }
  }

  function button(text, className, action) {
    const node = el('button', text, className);
    node.type = 'button';
    node.addEventListener('click', () => { action().catch(failed); });
    return node;
  }

  function time(iso) {
    const at = new Date(iso);
    return isNaN(at) ? String(iso) : at.toLocaleString();
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
    const body = $('hooks');
    body.replaceChildren(...hooks.map(hookRow));
    $('no-hooks').hidden = hooks.length > 0;
    if (selected !== null && !hooks.some((hook) => String(hook.id) === selected)) {
      selected = null;
      $('detail').hidden = true;
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
    const actions = el('td', null, 'actions');
    actions.append(
      button('Attempts', 'attempts', () => showAttempts(id)),
      button('Send test', 'test', () => sendTest(id)),
      button('Replay failed', 'replay', () => replayFailed(id)),
      button('Rotate secret', 'rotate', () => rotate(id)),
      button(hook.active ? 'Turn off' : 'Turn on', 'toggle', () => toggle(id, !hook.active)),
    );
    const cells = [el('td', id), el('td', hook.event), el('td', hook.target, 'target'), el('td')];
    cells[3].append(state);
    row.append(...cells, actions);
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
      el('td', time(attempt.at)),
      el('td', attempt.attempt),
      el('td', outcome, ok ? 'ok' : 'failed'),
      el('td', attempt.duration_ms + ' ms'),
      el('td', attempt.response || attempt.error || '', 'excerpt'),
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

  async function replayFailed(id) {
    const answer = await api('POST', '/' + encodeURIComponent(id) + '/replay');
    say('Hook ' + id + ': ' + answer.replayed + ' failed deliveries sent again.');
    await showAttempts(id);
  }

  async function rotate(id) {
    if (!confirm('Give hook ' + id + ' a new signing secret? The old one keeps signing for a while.')) return;
    const hook = await api('POST', '/' + encodeURIComponent(id) + '/rotate-secret');
    showSecret('New secret of hook ' + id + ' — shown only now, copy it:', hook.secret);
  }

  async function toggle(id, active) {
    await api('PATCH', '/' + encodeURIComponent(id), { active });
    say('Hook ' + id + (active ? ' turned on.' : ' turned off.'));
    await loadHooks();
  }

  function showSecret(label, secret) {
    $('secret-label').textContent = label;
    $('secret-value').textContent = secret || '(this server signs with a secret of its own)';
    $('secret').hidden = false;
  }

  async function create(event) {
    event.preventDefault();
    const hook = await api('POST', '', { event: $('event').value, target: $('target').value });
    $('target').value = '';
    say('Hook ' + hook.id + ' created.');
    showSecret('Signing secret of hook ' + hook.id + ' — shown only now, copy it:', hook.secret);
    await loadHooks();
  }

  async function loadChart() {
    const stats = await api('GET', '/stats');
    const hours = stats.hours;
    const width = 720, height = 140, top = 8, bottom = 18;
    const max = Math.max(1, ...hours.map((hour) => hour.delivered + hour.failed));
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    const total = hours.reduce((sum, hour) => sum + hour.delivered + hour.failed, 0);
    svg.setAttribute('aria-label', total + ' attempts in the last 24 hours');
    const step = width / hours.length;
    const scale = (height - top - bottom) / max;
    const baseline = height - bottom;
    const axis = document.createElementNS(SVG, 'line');
    for (const [name, value] of [['x1', 0], ['x2', width], ['y1', baseline], ['y2', baseline]]) axis.setAttribute(name, value);
    svg.append(axis);
    hours.forEach((hour, index) => {
      const x = index * step + 2;
      let y = baseline;
      for (const kind of ['delivered', 'failed']) {
        const h = hour[kind] * scale;
        if (h <= 0) continue;
        y -= h;
        const bar = document.createElementNS(SVG, 'rect');
        bar.setAttribute('class', kind);
        for (const [name, value] of [['x', x], ['y', y], ['width', step - 4], ['height', h]]) bar.setAttribute(name, value);
        const title = document.createElementNS(SVG, 'title');
        title.textContent = new Date(hour.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) + ': ' + hour[kind] + ' ' + kind;
        bar.append(title);
        svg.append(bar);
      }
      if (index % 3 === 0) {
        const label = document.createElementNS(SVG, 'text');
        label.setAttribute('x', x);
        label.setAttribute('y', height - 4);
        label.textContent = new Date(hour.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
        svg.append(label);
      }
    });
    $('chart').replaceChildren(svg);
  }

  async function refresh() {
    await loadHooks();
    await Promise.all([loadAttempts(), loadChart()]);
  }

  async function start() {
    say('');
    await loadEvents();
    await refresh();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('token').value = sessionStorage.getItem(TOKEN) || '';
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = $('token').value.trim();
      if (token) sessionStorage.setItem(TOKEN, token); else sessionStorage.removeItem(TOKEN);
      start().catch(failed);
    });
    $('token-forget').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN);
      $('token').value = '';
      start().catch(failed);
    });
    $('create').addEventListener('submit', (event) => { create(event).catch(failed); });
    $('refresh').addEventListener('click', () => { refresh().then(() => say(''), failed); });
    $('secret-dismiss').addEventListener('click', () => {
      $('secret-value').textContent = '';
      $('secret').hidden = true;
    });
    setInterval(() => {
      if (document.visibilityState === 'visible' && selected !== null) loadAttempts().catch(() => {});
    }, 5000);
    start().catch(failed);
  });
})();
