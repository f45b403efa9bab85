#!/usr/bin/python3
"""Mongo-wire stand-in (mockupdb + mongomock), NOT a real MongoDB.

There is no MongoDB server package on the build machines, so the `mongo` storage tests talk to
this process: python3-mockupdb speaks the wire protocol (OP_MSG, hello/isMaster), python3-mongomock
keeps the data in memory and evaluates filters, sorts, updates, aggregations and unique indexes.
It answers exactly the commands the provider sends (see docs/storage/mongo.md); anything else gets
a "no such command" error, so a new command in the provider shows up as a failing test here.

Usage: /usr/bin/python3 scripts/mongo-standin.py PORT [--ready-file PATH]
Requests are answered one at a time in arrival order (mongomock is not thread-safe).
"""
import sys

import mockupdb
import mongomock
from mongomock import DuplicateKeyError

# Debian's packages, not a virtualenv: run with /usr/bin/python3.

HELLO = {
    'ismaster': True,
    'isWritablePrimary': True,
    'helloOk': True,
    'minWireVersion': 0,
    'maxWireVersion': 13,
    'maxBsonObjectSize': 16 * 1024 * 1024,
    'maxMessageSizeBytes': 48000000,
    'maxWriteBatchSize': 100000,
    'logicalSessionTimeoutMinutes': 30,
}


def cursor_reply(request, db_name, coll_name, docs):
    request.ok(cursor={'id': 0, 'ns': f'{db_name}.{coll_name}', 'firstBatch': docs})


def handle(client, request):
    cmd = request.doc
    name = request.command_name
    lname = name.lower()
    db_name = cmd.get('$db', 'admin')
    db = client[db_name]

    if lname in ('ismaster', 'hello'):
        return request.ok(**HELLO)
    if lname in ('ping', 'endsessions', 'killcursors'):
        return request.ok()
    if lname == 'buildinfo':
        return request.ok(version='5.0.0-standin', versionArray=[5, 0, 0, 0])

    coll = db[cmd[name]] if isinstance(cmd.get(name), str) else None
    if lname == 'insert':
        docs = cmd.get('documents', [])
        ordered = cmd.get('ordered', True)
        inserted, errors = 0, []
        for i, d in enumerate(docs):
            try:
                coll.insert_one(d)
                inserted += 1
            except DuplicateKeyError as e:
                errors.append({'index': i, 'code': 11000, 'errmsg': f'E11000 duplicate key error collection: '
                                                                    f'{db_name}.{cmd[name]} {e}'})
                if ordered:
                    break
        if errors:
            return request.ok(n=inserted, writeErrors=errors)
        return request.ok(n=inserted)
    if lname == 'find':
        cursor = coll.find(cmd.get('filter', {}), cmd.get('projection'))
        if cmd.get('sort'):
            cursor = cursor.sort(list(cmd['sort'].items()))
        if cmd.get('skip'):
            cursor = cursor.skip(int(cmd['skip']))
        if cmd.get('limit'):
            cursor = cursor.limit(abs(int(cmd['limit'])))
        return cursor_reply(request, db_name, cmd[name], list(cursor))
    if lname == 'update':
        n = modified = 0
        upserted = []
        for i, u in enumerate(cmd.get('updates', [])):
            fn = coll.update_many if u.get('multi') else coll.update_one
            result = fn(u['q'], u['u'], upsert=bool(u.get('upsert')))
            if result.upserted_id is not None:
                upserted.append({'index': i, '_id': result.upserted_id})
                n += 1
            else:
                n += result.matched_count
                modified += result.modified_count
        extra = {'upserted': upserted} if upserted else {}
        return request.ok(n=n, nModified=modified, **extra)
    if lname == 'delete':
        n = 0
        for d in cmd.get('deletes', []):
            fn = coll.delete_one if d.get('limit') == 1 else coll.delete_many
            n += fn(d['q']).deleted_count
        return request.ok(n=n)
    if lname == 'createindexes':
        for spec in cmd.get('indexes', []):
            coll.create_index(list(spec['key'].items()), name=spec.get('name'), unique=bool(spec.get('unique')))
        return request.ok(numIndexesBefore=1, numIndexesAfter=1 + len(cmd.get('indexes', [])))
    if lname == 'listindexes':
        out = []
        for index_name, info in coll.index_information().items():
            entry = {'v': 2, 'key': dict(info['key']), 'name': index_name}
            if info.get('unique'):
                entry['unique'] = True
            out.append(entry)
        return cursor_reply(request, db_name, cmd[name], out)
    if lname == 'aggregate':
        return cursor_reply(request, db_name, cmd[name], list(coll.aggregate(cmd.get('pipeline', []))))
    if lname == 'count':
        return request.ok(n=coll.count_documents(cmd.get('query') or {}))
    if lname == 'drop':
        coll.drop()
        return request.ok()
    if lname == 'dropdatabase':
        client.drop_database(db_name)
        return request.ok()
    if lname == 'listcollections':
        docs = [{'name': n, 'type': 'collection'} for n in db.list_collection_names()]
        return cursor_reply(request, db_name, '$cmd.listCollections', docs)
    return request.command_err(code=59, errmsg=f'no such command: \'{name}\' (Mongo-wire stand-in)')


def main():
    port = int(sys.argv[1])
    ready_file = sys.argv[sys.argv.index('--ready-file') + 1] if '--ready-file' in sys.argv else None
    client = mongomock.MongoClient()
    server = mockupdb.MockupDB(port=port, auto_ismaster=HELLO, max_wire_version=13)
    server.run()
    if ready_file:
        with open(ready_file, 'w') as f:
            f.write(str(server.port))
    while True:
        try:
            request = server.receives(timeout=10**9)
        except OSError:
            # mockupdb inspects the request's socket while matching it; a client that vanished
            # meanwhile (a server killed with -9) raises here. Its request needs no answer.
            continue
        if request is None:
            return
        try:
            handle(client, request)
        except Exception as e:  # a bad request must not take the stand-in down
            try:
                request.command_err(code=2, errmsg=f'{type(e).__name__}: {e} (Mongo-wire stand-in)')
            except Exception:
                # The client is gone (a server killed with -9 mid-request): its answer, and this
                # error, have nowhere to go. Serve the next request.
                pass


if __name__ == '__main__':
    main()
