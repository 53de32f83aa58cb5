/** The name follower's AWS calls: the ones shared with the promotion hook (lambda/mysql-shared/aws.ts). */
export { defaultClients, describeMembers, readCname, upsert, type Clients, type Timing } from '../mysql-shared/aws';
