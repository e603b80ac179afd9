// pbbp2-sdk.js: print pbbp2.Frame encodings made by the official Node SDK's own
// protobuf code (the one its WSClient sends with) as "name hex" lines; their
// output is pasted into test_frame.c.
//   node tests/unit/pbbp2-sdk.js tests/node/node_modules
const dir = require('path').resolve(process.argv[2] || 'tests/node/node_modules');
require(dir + '/@larksuiteoapi/node-sdk');
const pb = require(dir + '/protobufjs/minimal');
const F = pb.roots.default.pbbp2.Frame;
const enc = (o) => Buffer.from(F.encode(o).finish()).toString('hex');
const ev = Buffer.from('{"schema":"2.0","header":{"event_id":"e1","event_type":"a.b"},"event":{}}');
console.log('ping', enc({headers:[{key:'type',value:'ping'}], service: 7, method: 0, SeqID: 0, LogID: 0}));
const data = {SeqID: 9007199254740991, LogID: 123456789012, service: 7, method: 1,
  headers: [{key:'type',value:'event'},{key:'message_id',value:'m-1'},{key:'sum',value:'1'},
            {key:'seq',value:'0'},{key:'trace_id',value:'t-1'},{key:'timestamp',value:'1700000000000'}],
  payload: ev};
console.log('event', enc(data));
console.log('ack', enc({...data, headers:[...data.headers,{key:'biz_rt',value:'3'}], payload: Buffer.from('{"code":200}')}));
console.log('negative', enc({headers:[], service: -5, method: 0, SeqID: 1, LogID: 2}));
console.log('optional', enc({headers:[{key:'',value:''}], service: 0, method: 0, SeqID: 0, LogID: 0,
  payloadEncoding:'gzip', payloadType:'json', payload: Buffer.alloc(0), LogIDNew:'n-1'}));
