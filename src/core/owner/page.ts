// The owner's page: constant text (in flash on a device), written in pieces as the socket has room
// (OwnerConnection in owner-page.ts), as the setup page is. One HTML page, its style and one script
// allowed by its hash (OWNER_SCRIPT_HASH in the Content-Security-Policy). Everything it shows comes
// from the plug through authenticated requests and is put in with textContent, never as markup.
//
// The script logs in without sending the password: it computes KLAP v1's auth hash
// md5(md5(username) + md5(password)) itself, proves it knows it (owner-page.ts says how), and keeps
// only the session's key, in a variable: a reload logs out. http:// on a LAN address is not a secure
// context, so crypto.subtle is absent: MD5 and SHA-256 are written out here (OWNER_CRYPTO_JS, a
// couple of KB; host-tests/owner-page.test.ts checks them against node:crypto). crypto.getRandomValues
// exists in every context.

/** MD5 (M) and SHA-256 (S) over Uint8Arrays, hex (H) both ways (X), concatenation (C). */
export const OWNER_CRYPTO_JS =
  "function H(b){var s='',i;for(i=0;i<b.length;i++)s+=(b[i]<16?'0':'')+b[i].toString(16);return s}" +
  "function X(h){var b=new Uint8Array(h.length>>1),i;for(i=0;i<b.length;i++)b[i]=parseInt(h.substr(2*i,2),16);return b}" +
  "function C(){var a=arguments,n=0,i,k=0,o;for(i=0;i<a.length;i++)n+=a[i].length;o=new Uint8Array(n);for(i=0;i<a.length;i++){o.set(a[i],k);k+=a[i].length}return o}" +
  "function P(m,le){var l=m.length,L=((l+8>>6)+1)<<6,b=new Uint8Array(L),d=new DataView(b.buffer);b.set(m);b[l]=128;" +
  "d.setUint32(le?L-8:L-4,l*8>>>0,le);d.setUint32(le?L-4:L-8,l/536870912|0,le);return d}" +
  "function M(m){var d=P(m,1),h=[1732584193,-271733879,-1732584194,271733878],T=[],R=[7,12,17,22,5,9,14,20,4,11,16,23,6,10,15,21],i,j,o;" +
  "for(i=0;i<64;i++)T[i]=Math.abs(Math.sin(i+1))*4294967296|0;" +
  "for(i=0;i<d.byteLength;i+=64){var a=h[0],b=h[1],c=h[2],e=h[3],f,g,t,q,x,s;for(j=0;j<64;j++){q=j>>4;" +
  "if(q==0){f=b&c|~b&e;g=j}else if(q==1){f=e&b|~e&c;g=5*j+1&15}else if(q==2){f=b^c^e;g=3*j+5&15}else{f=c^(b|~e);g=7*j&15}" +
  "t=e;e=c;c=b;s=R[q*4+(j&3)];x=a+f+T[j]+d.getInt32(i+4*g,1)|0;b=b+(x<<s|x>>>32-s)|0;a=t}" +
  "h[0]=h[0]+a|0;h[1]=h[1]+b|0;h[2]=h[2]+c|0;h[3]=h[3]+e|0}" +
  "o=new DataView(new ArrayBuffer(16));for(i=0;i<4;i++)o.setInt32(4*i,h[i],1);return new Uint8Array(o.buffer)}" +
  "function r(x,n){return x>>>n|x<<32-n}" +
  "function S(m){var d=P(m,0),h=[],k=[],p=2,n=0,i,j,w=new Int32Array(64),v,x,y,e,t,u,o;" +
  "for(;n<64;p++){for(j=2;j*j<=p;j++)if(p%j==0)break;if(j*j>p){if(n<8)h[n]=Math.pow(p,.5)*4294967296|0;k[n++]=Math.pow(p,1/3)*4294967296|0}}" +
  "for(i=0;i<d.byteLength;i+=64){for(j=0;j<64;j++){if(j<16)w[j]=d.getInt32(i+4*j);" +
  "else{x=w[j-15];y=w[j-2];w[j]=w[j-16]+(r(x,7)^r(x,18)^x>>>3)+w[j-7]+(r(y,17)^r(y,19)^y>>>10)|0}}" +
  "v=h.slice();for(j=0;j<64;j++){e=v[4];x=v[0];t=v[7]+(r(e,6)^r(e,11)^r(e,25))+(e&v[5]^~e&v[6])+k[j]+w[j]|0;" +
  "u=(r(x,2)^r(x,13)^r(x,22))+(x&v[1]^x&v[2]^v[1]&v[2])|0;v.pop();v.unshift(t+u|0);v[4]=v[4]+t|0}" +
  "for(j=0;j<8;j++)h[j]=h[j]+v[j]|0}" +
  "o=new DataView(new ArrayBuffer(32));for(j=0;j<8;j++)o.setInt32(4*j,h[j]);return new Uint8Array(o.buffer)}";

/** What the page tells a visitor when the plug has no owner credentials (hello answers 403). */
const NO_CREDENTIALS =
  "This plug has no owner credentials yet, so this page refuses everything. To set them, hold its button 5 s until the " +
  "setup network opens, connect to it, and fill in the Owner fields of the setup page.";

/** The page's logic: log in, then the plug's state and actions, each request MAC'd under the session's key. */
export const OWNER_UI_JS =
  "var K,I,Q=0,O,Z=Promise.resolve(),T=new TextEncoder(),D=document;" +
  "function $(i){return D.getElementById(i)}" +
  "function say(t,b){var e=$('e');e.textContent=t;e.className=b?'m e':'m';e.setAttribute('role',b?'alert':'status')}" +
  "function post(p,b){return fetch(p,{method:'POST',body:b,cache:'no-store',credentials:'omit'})}" +
  "function out(t){K=I=null;$('m').hidden=true;$('l').hidden=false;say(t,1)}" +
  "function call(n,b,t){var p=Z.then(function(){if(!K)throw 0;Q++;var q=new Uint8Array(4);new DataView(q.buffer).setUint32(0,Q);" +
  "return post('/owner/'+n+'?s='+I+'&q='+Q+'&m='+H(S(C(K,T.encode(n),q,t||b))),b)}).then(function(x){" +
  "if(x.status==403){out('Your session ended: log in again.');throw 0}return x});Z=p.catch(function(){});return p}" +
  "function kasa(o){return call('kasa',T.encode(JSON.stringify(o))).then(function(x){return x.json()})}" +
  "function hm(n){return('0'+(n/60|0)).slice(-2)+':'+('0'+n%60).slice(-2)}" +
  "function rule(m,x){var n=(x.name||x.id)+': ',d=x.enable?'':' (disabled)';" +
  "if(m=='count_down')return n+'turn '+(x.act?'on':'off')+' after '+x.delay+' s'+d;" +
  "if(m=='anti_theft')return n+'away mode '+hm(x.smin)+'-'+hm(x.emin)+d;" +
  "return n+'turn '+(x.sact?'on':'off')+' at '+(x.stime_opt==1?'sunrise':x.stime_opt==2?'sunset':hm(x.smin))+d}" +
  "var UPD={ready:'updates: send a signed image',off:'no updates',receiving:'an update is arriving',trial:'on trial: it confirms itself once joined and serving',restarting:'restarting into the new firmware'};" +
  "var LOCK={locked:'Locked: a reset, Wi-Fi or identity change needs the button held 2-5 s first.',open:'Open for one command (the button was held).',off:'Off in this build: every command is open.'};" +
  "async function load(){var d=new Date(),a=await kasa({system:{get_sysinfo:{}},emeter:{get_realtime:{},get_daystat:{year:d.getFullYear(),month:d.getMonth()+1}}," +
  "schedule:{get_rules:{}},anti_theft:{get_rules:{}},count_down:{get_rules:{}}}),s=a.system.get_sysinfo,e=a.emeter||{},r=e.get_realtime,u=$('ru'),t=0,j;" +
  "O=s.relay_state==1;$('st').textContent=O?'on':'off';$('tg').textContent=O?'Switch off':'Switch on';$('h').textContent=s.alias;" +
  "if(D.activeElement!=$('al'))$('al').value=s.alias;$('ld').checked=!s.led_off;$('ps').hidden=!r||!!r.err_code;" +
  "if(r&&!r.err_code){$('pw').textContent=(r.power_mw!=null?r.power_mw/1000:r.power).toFixed(1)+' W';" +
  "((e.get_daystat||{}).day_list||[]).forEach(function(x){if(x.day==d.getDate())t=x.energy_wh!=null?x.energy_wh:Math.round(x.energy*1000)});$('en').textContent=t+' Wh'}" +
  "u.textContent='';['schedule','anti_theft','count_down'].forEach(function(m){(((a[m]||{}).get_rules||{}).rule_list||[]).forEach(function(x){" +
  "var li=D.createElement('li');li.textContent=rule(m,x);u.appendChild(li)})});if(!u.firstChild)u.textContent='None.';" +
  "j=await(await call('status',new Uint8Array(0))).json();$('lk').textContent=LOCK[j.lock]||j.lock;$('fw').textContent=j.firmware||'?';" +
  "$('fu').textContent='('+(UPD[j.update]||j.update)+(j.detail?': '+j.detail:'')+')';$('lg').textContent=j.log}" +
  "function act(o){return kasa(o).then(function(a){var m=Object.keys(o)[0],x=a[m][Object.keys(o[m])[0]];" +
  "if(x.err_code)say(x.err_msg||'error '+x.err_code,1);else say('Done.');return load()}).catch(function(){})}" +
  "$('l').onsubmit=async function(v){v.preventDefault();var u=$('u').value,w=$('w').value;$('w').value='';" +
  "var a=M(C(M(T.encode(u)),M(T.encode(w)))),c=crypto.getRandomValues(new Uint8Array(16)),x=await post('/owner/hello',H(c)),j,n;" +
  `if(x.status!=200)return say(x.status==403?${JSON.stringify(NO_CREDENTIALS)}:x.status==429?'Too many attempts: wait a minute.':'Refused ('+x.status+').',1);` +
  "j=await x.json();n=X(j.nonce);x=await post('/owner/login',j.session+H(S(C(c,n,a))));" +
  "if(x.status!=200)return say(x.status==429?'Too many attempts: wait a minute.':'Wrong username or password.',1);" +
  "I=j.session;K=S(C(T.encode('owner'),n,c,a));Q=0;$('l').hidden=true;$('m').hidden=false;say('Logged in.');load().catch(function(){})};" +
  "$('tg').onclick=function(){act({system:{set_relay_state:{state:O?0:1}}})};" +
  "$('af').onsubmit=function(v){v.preventDefault();act({system:{set_dev_alias:{alias:$('al').value}}})};" +
  "$('ld').onchange=function(){act({system:{set_led_off:{off:$('ld').checked?0:1}}})};" +
  "$('rf').onclick=function(){load().catch(function(){})};" +
  "$('lo').onclick=function(){out('Logged out.')};" +
  "$('uf').onsubmit=async function(v){v.preventDefault();var f=$('uq').files[0],x,j;if(!f)return;$('us').textContent='Sending '+f.size+' bytes...';" +
  "try{x=await call('update',f,T.encode(String(f.size)));j=await x.json();" +
  "$('us').textContent=j.status=='accepted'?'Accepted: the plug restarts into the new firmware.':'Refused: '+(j.detail||j.status)}catch(e){$('us').textContent='The upload failed.'}}";

/** The page's one script: OWNER_CRYPTO_JS then OWNER_UI_JS. */
export const OWNER_SCRIPT = OWNER_CRYPTO_JS + OWNER_UI_JS;
/** OWNER_SCRIPT's hash, as the Content-Security-Policy names it (host-tests/owner-page.test.ts checks it). */
export const OWNER_SCRIPT_HASH = "sha256-jc08vl7bVV1Q1H1FIKgqlE1m5kbjmURiCWzGj1r3jQE=";

/** The page's header lines (after the status line; the connection adds Connection and Content-Length). */
export const OWNER_PAGE_HEAD =
  "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n" +
  `Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src '${OWNER_SCRIPT_HASH}'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'\r\n` +
  "X-Frame-Options: DENY\r\nReferrer-Policy: same-origin\r\nX-Content-Type-Options: nosniff\r\n";

const STYLE =
  "<style>body{font:17px/1.4 system-ui,sans-serif;margin:0 auto;max-width:32em;padding:.5em 1em 2em}h1{font-size:1.5em}h2{font-size:1.1em;margin:1.2em 0 .3em}" +
  "[hidden]{display:none!important}label{display:block;margin:.6em 0}input:not([type=checkbox]){font:inherit;min-height:44px;width:100%;box-sizing:border-box;padding:0 .5em}" +
  "button{font:inherit;font-weight:bold;min-height:44px;padding:0 1em;margin:.3em 0;border:0;border-radius:8px;background:#05c;color:#fff}" +
  ".m{padding:.7em .9em;border-radius:8px;border-left:6px solid #789;background:#eef1f5}.e{border-color:#c00;background:#fde7e7;color:#8b0000;font-weight:bold}" +
  "pre{white-space:pre-wrap;font-size:.8em;background:#f4f4f4;padding:.5em}" +
  "@media(prefers-color-scheme:dark){body{background:#121212;color:#eee}.m,pre{background:#1f252d}.e{background:#3b1111;color:#fbb}button{background:#26d}}</style>";

/** The page, in pieces of at most about a KB each (each is encoded as it is written). */
export const OWNER_PAGE: readonly string[] = Object.freeze([
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
    '<meta name="color-scheme" content="light dark"><link rel="icon" href="data:,"><title>Plug owner</title>',
  STYLE,
  '</head><body><h1 id="h">Your plug</h1><p id="e" class="m" role="status">Log in with the owner\'s username and password (set on the setup page).</p>' +
    '<form id="l"><label>Username <input id="u" autocomplete="username" autocapitalize="off" spellcheck="false" required></label>' +
    '<label>Password <input id="w" type="password" autocomplete="current-password" required></label><button>Log in</button></form>' +
    '<div id="m" hidden><h2>Relay</h2><p>It is <b id="st">?</b>. <button id="tg" type="button">Switch</button></p>' +
    '<h2>Name</h2><form id="af"><input id="al" maxlength="31" aria-label="Name"><button>Rename</button></form>' +
    '<label><input type="checkbox" id="ld"> LED on</label>' +
    '<div id="ps" hidden><h2>Energy</h2><p>Power <b id="pw"></b> &middot; today <b id="en"></b></p></div>',
  '<h2>Rules</h2><ul id="ru"></ul><h2>Presence lock</h2><p id="lk"></p>' +
    '<h2>Firmware</h2><p>Version <b id="fw"></b> <span id="fu"></span></p>' +
    '<form id="uf"><input type="file" id="uq" required aria-label="Signed firmware image"><button>Update</button></form><p id="us" role="status"></p>' +
    '<h2>Recent log</h2><pre id="lg"></pre><p><button type="button" id="rf">Refresh</button> <button type="button" id="lo">Log out</button></p></div><script>',
  OWNER_CRYPTO_JS,
  OWNER_UI_JS,
  "</script></body></html>",
]);
