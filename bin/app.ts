#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildReferenceSite } from './site';

const app = new App();
buildReferenceSite(app);
// Every stack is checked against cdk-nag's AwsSolutions pack; findings must be fixed or acknowledged.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
