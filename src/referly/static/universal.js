// Referly's browser script: a drop-in for Partnero's universal.js. Hand-written, no build
// step; served with comments and whitespace stripped (referly/static/build.py). Budget:
// 1.5 KB gzipped, checked by `python -m referly.static.size`. Every byte ships to every
// visitor, so local names are short and the settings use one-letter keys:
// p URL params, c cookie name, n cookie days, m cookie domain ('auto', '' for host-only, or a
// domain), f true for the first-click rule. docs/browser-snippet.md explains the behaviour.
(function (w, d, loc) {
  // KEY: what a referral key (or visitor id) looks like. V: the visitor cookie, which ties a
  // sign-up to its click. base: where the script came from; the endpoints live there, so a
  // first-party reverse proxy works unchanged. ready resolves `settled` with the settings.
  var name = w.__partnerObject || 'po', KEY = /^[\w.-]{1,64}$/, V = 'referly_visitor', P = 'referly_probe', ready, url;
  var settled = new Promise(function (r) {
    ready = r;
  });
  var base = ((d.currentScript || {}).src || '').replace(/\/js\/universal\.js.*/, '');
  function noop() {}
  // Nothing the script does may throw into the host page.
  function safe(f) {
    return function (a) {
      try {
        f(a);
      } catch (e) {}
    };
  }
  function after(f) {
    settled.then(safe(f));
  }
  // A cookie's value, only when it looks like a referral key (or a visitor id).
  function get(k) {
    k = d.cookie.match('(^|; )' + k + '=([^;]*)');
    return k && KEY.test(k[2]) && k[2];
  }
  function set(k, v, dom, days) {
    d.cookie = k + '=' + v + ';path=/;samesite=lax;max-age=' + days * 864e2 + (dom ? ';domain=' + dom : '') + (loc.protocol == 'https:' ? ';secure' : '');
  }
  // Mode auto: the widest domain the browser accepts. Browsers refuse public suffixes (and
  // any parent of an IP address), so try the shortest parent first and keep the first that
  // sticks. Host-only is the fallback, also for an explicit domain the browser refuses.
  function domain(mode) {
    var parts = loc.hostname.split('.'), list = [mode], i;
    if (mode == 'auto') for (list = [], i = parts.length - 2; i >= 0; i--) list.push(parts.slice(i).join('.'));
    for (i = 0; i < list.length; i++) {
      set(P, 1, list[i], 1);
      if (get(P)) return set(P, 1, list[i], -1), list[i];
    }
  }
  // The referral key in the landing URL: ?aff=KEY (any of the program's params), or /aff/KEY.
  function fromUrl(params) {
    var q = new URLSearchParams(loc.search), path = loc.pathname.split('/'), i, k;
    for (i = 0; i < params.length; i++) if (KEY.test(k = q.get(params[i]) || '')) return k;
    for (i = 0; i < path.length - 1; i++) if (params.indexOf(path[i]) >= 0 && KEY.test(k = path[i + 1])) return k;
  }
  // text/plain JSON, so no CORS preflight; a beacon, so it survives the page navigating away.
  function send(action, body) {
    navigator.sendBeacon(url + action, JSON.stringify(body));
  }
  // A landing with a referral key: set the cookie (first click keeps an existing one) and
  // count the click.
  function land(s) {
    var k = fromUrl(s.p), dom, v;
    if (!k) return;
    dom = domain(s.m);
    set(V, v = get(V) || Math.random().toString(36).slice(2), dom, s.n);
    if (!s.f || !get(s.c)) set(s.c, k, dom, s.n);
    send('clicks', {key: k, url: loc.href, referrer: d.referrer, visitor: v});
  }
  // Settings are kept five minutes, so a page view without a referral sends no request.
  // Stored under the endpoints' URL, which names the server and the program.
  function load(program) {
    var c;
    url = base + '/t/' + program + '/';
    try {
      c = JSON.parse(localStorage[url]);
    } catch (e) {}
    if (c && c.t > Date.now() - 3e5) return ready(c);
    fetch(url + 'settings').then(function (r) {
      return r.json();
    }).then(function (s) {
      if (s.p) {
        ready(s);
        s.t = Date.now();
        localStorage[url] = JSON.stringify(s);
      }
    }).catch(noop);
  }
  // The partner: data.partner.key, else the cookie, else the landing URL; none: send nothing.
  function signup(data, source) {
    after(function (s) {
      var p = (data.partner || {}).key || get(s.c) || fromUrl(s.p);
      if (p && data.key) send('signups', {key: '' + data.key, email: data.email, name: data.name, surname: data.surname, partner: p, source: source, visitor: get(V)});
    });
  }
  // Universal: only text and email inputs named like a name or an email; never other fields.
  // The customer key is the email.
  function capture(e) {
    var f = {}, i, el, m, v;
    for (i = 0; (el = e.target.elements[i]); i++) {
      if (!/^(text|email)$/.test(el.type) || !(v = el.value.trim())) continue;
      m = (el.name || el.id).toLowerCase().replace(/.*\[|\]|[^a-z]/g, '');
      if (el.type == 'email' || /email/.test(m)) f.email = f.email || (/.@./.test(v) && v);
      else if ((m = /^(?:(f|first)|(l|last|sur)|full|your)?name$/.exec(m))) f[m[1] ? 'first' : m[2] ? 'surname' : 'name'] = v;
    }
    if ((f.key = f.email)) f.name = f.name || f.first, signup(f, 'universal');
  }
  // Capture phase on the document, so every form's submit is seen first. Listening twice with
  // the same function is a no-op, so a repeated call adds nothing.
  var onSubmit = safe(capture), handle = safe(function (a) {
    var call = a[0] + ' ' + a[1];
    if (a[0] == 'program' && !url) load(a[1]), after(land);
    if (call == 'integration universal') d.addEventListener('submit', onSubmit, 1);
    if (call == 'customers signup' && a[2].data) signup(a[2].data, 'js');
  });
  // The loader queues calls as {a: arguments} and its stub keeps pushing onto the same queue:
  // replay the queue, then take over its push, and every call is handled, early or late.
  // Returning the stub keeps chained calls working. A second copy of the script does nothing.
  safe(function () {
    var q = w[name].q, queued;
    if (q.referly) return;
    queued = q.splice(0);
    q.referly = q.push = function (c) {
      handle(c.a);
      return w[name];
    };
    queued.forEach(q.push);
  })();
})(window, document, location);
