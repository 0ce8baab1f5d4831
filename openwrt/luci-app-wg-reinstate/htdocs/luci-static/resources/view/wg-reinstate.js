'use strict';
'require view';
'require form';
'require fs';
'require rpc';
'require uci';

/*
 * wg-reinstate in LuCI: the settings of /etc/config/wg-reinstate and the last
 * cycle from the status file. It never shows a public key, a preshared key
 * or an endpoint address: the status file holds none, and nothing else is
 * read (no `wg show`).
 *
 * The options, datatypes and defaults are those of the program's settings
 * registry (src/config/settings_registry.ts in its sources), which the init
 * script's validation shares; the paths and programs the form accepts are
 * those the compiled program's permissions allow (scripts/release/runtime_flags.ts).
 * tests/unit/luci_app_test.ts holds the form to both.
 */

// The status file LuCI may read (the ACL grants this path only).
var STATUS_FILE = '/var/run/wg-reinstate/status.json';
// WireGuard's REJECT_AFTER_TIME: no session outlives it.
var REJECT_AFTER_TIME = 180;
var IFNAME = /^[A-Za-z0-9_=+.][A-Za-z0-9_=+.-]{0,14}$/;
var WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
// The compiled program may run only these, and read and write only below
// these directories: anything else fails at run time, so the form refuses it.
var WG_PROGRAMS = [ 'wg', '/usr/bin/wg', '/usr/sbin/wg', '/usr/local/bin/wg' ];
var WRITABLE = [ '/var/run/wg-reinstate', '/run/wg-reinstate', '/tmp/run/wg-reinstate',
	'/var/prometheus', '/tmp/prometheus', '/var/lib/wg-reinstate' ];
// systemd-networkd's, netplan's and NetworkManager's, which OpenWrt has none of.
var CONFIGURATORS = [ '/etc/systemd/network', '/run/systemd/network',
	'/usr/local/lib/systemd/network', '/usr/lib/systemd/network', '/run/netplan', '/etc/netplan',
	'/lib/netplan', '/run/NetworkManager/system-connections',
	'/etc/NetworkManager/system-connections', '/usr/lib/NetworkManager/system-connections' ];
var READABLE = [ '/etc/wireguard', '/etc/config', '/etc/wg-reinstate' ].concat(CONFIGURATORS, WRITABLE);

var callServiceList = rpc.declare({
	object: 'service',
	method: 'list',
	params: [ 'name' ],
	expect: { '': {} }
});

// stale_after: below REJECT_AFTER_TIME only when forced, as the daemon decides.
function staleAfterValid(value, forced) {
	if (value === '' || value === null || value === undefined || +value >= REJECT_AFTER_TIME || forced === '1')
		return true;
	return _('Below %d s, live WireGuard sessions would be cut (a session lives up to %d s). Set "Allow shorter thresholds" to force it.')
		.format(REJECT_AFTER_TIME, REJECT_AFTER_TIME);
}

// A validator: the value is empty or a path below one of `dirs`.
function below(dirs, refusal) {
	return function(section_id, value) {
		if (value === '' || value === null || value === undefined)
			return true;
		var inside = value.split('/').indexOf('..') < 0 && dirs.some(function(dir) {
			return value.indexOf(dir + '/') === 0;
		});
		return inside ? true : refusal.format(dirs.join(', '));
	};
}

function running(services) {
	var instances = (services['wg-reinstate'] || {}).instances || {};
	return Object.keys(instances).some(function(name) { return instances[name].running; });
}

// The status file's reasons, in words; a reason this page does not know is
// shown as it is.
function reason(key) {
	switch (key) {
	case 'stale': return _('stale');
	case 'unconfirmed': return _('unconfirmed');
	case 'active': return _('active');
	case 'no-endpoint': return _('without endpoint');
	case 'never-handshaked': return _('never connected');
	case 'excluded': return _('excluded');
	case 'configured-endpoint': return _('with a configured endpoint');
	case 'handshake-in-future': return _('with a handshake in the future');
	case 'observing': return _('still being watched');
	}
	return key.replace(/-/g, ' ');
}

function nonZero(record) {
	return Object.keys(record || {}).filter(function(k) { return record[k] > 0; });
}

// "3 stale, 1 excluded", or "none".
function byReason(record) {
	var parts = nonZero(record).map(function(k) { return '%d %s'.format(record[k], reason(k)); });
	return parts.length ? parts.join(', ') : _('none');
}

// "3 peers purged on wg0, 1 peer purged on wg1", or `none`.
function byInterface(record, one, many, none) {
	var parts = nonZero(record).map(function(k) { return N_(record[k], one, many).format(record[k], k); });
	return parts.length ? parts.join(', ') : none;
}

function when(seconds) {
	return new Date(seconds * 1000).toLocaleString();
}

// Data goes into the page as text: LuCI's E() takes a bare string child as
// HTML, but makes text nodes of the strings in an array.
function statusSection(isRunning, status, statusPath) {
	var rows = [
		E('p', {}, [ E('strong', {}, _('Service') + ': '),
			isRunning ? _('running') : _('not running') ])
	];
	if (statusPath !== STATUS_FILE) {
		rows.push(E('p', {}, [ _('The status file is set to %s; LuCI may read only %s.')
			.format(statusPath, STATUS_FILE) ]));
	} else if (status === null) {
		rows.push(E('p', { 'class': 'wg-reinstate-no-cycle' }, _('No cycle yet: there is no status file.')));
	} else if (typeof status === 'string') {
		rows.push(E('p', {}, [ _('The status file cannot be read: %s').format(status) ]));
	} else {
		var c = status.lastCycle, t = status.totals;
		rows.push(E('p', {}, [ E('strong', {}, _('Last cycle') + ': '),
			_('%s, took %s s, %s').format(when(c.finishedAt), c.durationSeconds.toFixed(3),
				c.result === 'ok' ? _('ok') : _('failed')) +
			(c.dryRun ? ' ' + _('(dry run)') : '') +
			(c.error ? ': ' + c.error : '') ]));
		var table = E('table', { 'class': 'table' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, _('Interface')),
				E('th', { 'class': 'th' }, _('Peers checked')),
				E('th', { 'class': 'th' }, _('Purged')),
				E('th', { 'class': 'th' }, _('Kept, by reason')),
				E('th', { 'class': 'th' }, _('Repaired')),
				E('th', { 'class': 'th' }, _('Error'))
			])
		]);
		c.interfaces.forEach(function(i) {
			table.appendChild(E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td' }, [ i.name ]),
				E('td', { 'class': 'td' }, String(i.checked)),
				E('td', { 'class': 'td' }, [ byReason(i.purged) ]),
				E('td', { 'class': 'td' }, [ byReason(i.kept) ]),
				E('td', { 'class': 'td' }, [ i.notRestored > 0
					? _('%d, %d NOT restored').format(i.repaired, i.notRestored) : String(i.repaired) ]),
				E('td', { 'class': 'td' }, [ i.error || '-' ])
			]));
		});
		rows.push(table);
		(c.busy || []).forEach(function(name) {
			rows.push(E('p', {}, [ _('%s was skipped: another wg-reinstate held it.').format(name) ]));
		});
		var cycles = t.cycles.ok + t.cycles.failed;
		rows.push(E('p', {}, [ E('strong', {}, _('Since %s').format(when(t.since)) + ': '), [
			N_(cycles, '%d cycle', '%d cycles').format(cycles) +
				(t.cycles.failed > 0 ? ', ' + _('%d failed').format(t.cycles.failed) : ''),
			byInterface(t.purged, '%d peer purged on %s', '%d peers purged on %s', _('no peer purged')),
			byInterface(t.repaired, '%d peer repaired on %s', '%d peers repaired on %s', _('no peer repaired'))
		].join('; ') ]));
	}
	return E('div', { 'class': 'cbi-section' }, [ E('h3', {}, _('Status')) ].concat(rows));
}

return view.extend({
	load: function() {
		return Promise.all([
			uci.load('wg-reinstate'),
			uci.load('network'),
			L.resolveDefault(callServiceList('wg-reinstate'), {}),
			L.resolveDefault(fs.read(STATUS_FILE), null).then(function(text) {
				if (text === null || text === '') return null;
				try { return JSON.parse(text); } catch (e) { return e.message; }
			})
		]);
	},

	render: function(data) {
		var isRunning = running(data[2]), status = data[3];
		var statusPath = uci.get('wg-reinstate', 'main', 'status_file') || STATUS_FILE;
		var wireguard = uci.sections('network', 'interface')
			.filter(function(s) { return s.proto === 'wireguard'; })
			.map(function(s) { return s['.name']; });
		var m, s, o;

		m = new form.Map('wg-reinstate', _('WireGuard endpoint privacy'),
			_('wg-reinstate makes WireGuard forget the public address and port (endpoint) of every peer whose session is over, so the router keeps no record of where its users connected from.'));

		s = m.section(form.NamedSection, 'main', 'wg-reinstate', _('Settings'));
		s.addremove = false;
		s.tab('general', _('General'));
		s.tab('protect', _('Protection'));
		s.tab('advanced', _('Advanced'));

		o = s.taboption('general', form.Flag, 'enabled', _('Enabled'));
		o.default = '1';
		o.rmempty = false;

		o = s.taboption('general', form.Value, 'stale_after', _('Forget endpoints after (seconds)'),
			_('Seconds since a peer\'s latest handshake before its endpoint is forgotten. At least 180: a WireGuard session lives up to 180 s.'));
		o.datatype = 'range(1,31536000)';
		o.placeholder = '180';
		o.default = '180';
		o.validate = function(section_id, value) {
			return staleAfterValid(value, this.section.formvalue(section_id, 'force_short_threshold'));
		};

		o = s.taboption('general', form.Value, 'interval', _('Longest sleep (seconds)'),
			_('The longest wait between two purge cycles. The service wakes sooner, at each peer\'s deadline; idle, it reads the interfaces once per this many seconds or stale-after, whichever is less.'));
		o.datatype = 'range(1,86400)';
		o.placeholder = '180';
		o.default = '180';

		o = s.taboption('general', form.DynamicList, 'interface', _('Interfaces'),
			_('WireGuard interfaces to purge. None listed: every WireGuard interface.'));
		wireguard.forEach(function(name) { o.value(name); });
		o.validate = function(section_id, value) {
			return (value === '' || IFNAME.test(value)) ? true : _('Not a valid interface name');
		};

		o = s.taboption('general', form.Flag, 'dry_run', _('Dry run'),
			_('Only log what would be purged; change nothing.'));
		o.default = '0';

		o = s.taboption('protect', form.DynamicList, 'exclude', _('Never purge these peers'),
			_('WireGuard public keys. Peers with an endpoint host in the network configuration are protected without being listed here.'));
		o.validate = function(section_id, value) {
			return (value === '' || WG_KEY.test(value)) ? true : _('Not a WireGuard public key');
		};

		o = s.taboption('protect', form.Flag, 'force_short_threshold', _('Allow shorter thresholds'),
			_('Allows forgetting endpoints after less than 180 s. This cuts live sessions: for demonstrations and tests only.'));
		o.default = '0';

		o = s.taboption('protect', form.Value, 'network_config', _('Network configuration'),
			_('Its WireGuard peers with an endpoint host are never purged.'));
		o.datatype = 'file';
		o.placeholder = '/etc/config/network';
		o.validate = below(READABLE, _('wg-reinstate may read only files below %s'));

		o = s.taboption('protect', form.Value, 'wg_quick_config', _('wg-quick file'),
			_('A wg-quick file whose [Peer] Endpoint lines protect site-to-site peers; %i is the interface.'));
		o.datatype = 'string';
		o.placeholder = '/etc/wireguard/%i.conf';
		o.validate = below(READABLE, _('wg-reinstate may read only files below %s'));

		o = s.taboption('advanced', form.ListValue, 'log_level', _('Log level'));
		[ 'debug', 'info', 'warning', 'error' ].forEach(function(v) { o.value(v); });
		o.default = 'info';

		o = s.taboption('advanced', form.ListValue, 'log_format', _('Log format'));
		o.value('text', _('Text'));
		o.value('json', _('JSON lines'));
		o.default = 'text';

		o = s.taboption('advanced', form.Value, 'wg', _('wg program'));
		o.datatype = 'file';
		o.placeholder = 'wg';
		WG_PROGRAMS.forEach(function(path) { o.value(path); });
		o.validate = function(section_id, value) {
			return (value === '' || WG_PROGRAMS.indexOf(value) >= 0) ? true
				: _('wg-reinstate may run only %s').format(WG_PROGRAMS.join(', '));
		};

		o = s.taboption('advanced', form.Value, 'wg_timeout', _('wg time limit (seconds)'),
			_('Seconds a wg call of unknown cost may take before it counts as hung.'));
		o.datatype = 'and(ufloat,max(600))';
		o.placeholder = '10';

		// No key_dir: the program may write its preshared-key files only in
		// its own run directory, which is the default.

		o = s.taboption('advanced', form.Value, 'status_file', _('Status file'),
			_('The last cycle and totals since boot, shown above. LuCI may read only the default path.'));
		o.datatype = 'string';
		o.placeholder = STATUS_FILE;
		o.validate = below(WRITABLE, _('wg-reinstate may write only files below %s'));

		o = s.taboption('advanced', form.Value, 'metrics_file', _('Prometheus metrics file'),
			_('For prometheus-node-exporter-lua-textfile: /var/prometheus/wg-reinstate.prom. Empty: none.'));
		o.datatype = 'string';
		o.validate = below(WRITABLE, _('wg-reinstate may write only files below %s'));

		s = m.section(form.TypedSection, 'interface', _('Per-interface settings'),
			_('A section named after a WireGuard interface overrides the threshold and adds exclusions for it.'));
		s.addremove = true;
		s.anonymous = false;

		o = s.option(form.Value, 'stale_after', _('Forget endpoints after (seconds)'));
		o.datatype = 'range(1,31536000)';
		o.validate = function(section_id, value) {
			var force = this.map.lookupOption('force_short_threshold', 'main');
			return staleAfterValid(value, force ? force[0].formvalue('main') : null);
		};

		o = s.option(form.DynamicList, 'exclude', _('Never purge these peers'));
		o.validate = function(section_id, value) {
			return (value === '' || WG_KEY.test(value)) ? true : _('Not a WireGuard public key');
		};

		return m.render().then(function(node) {
			node.insertBefore(statusSection(isRunning, status, statusPath),
				node.querySelector('.cbi-section'));
			return node;
		});
	}
});
