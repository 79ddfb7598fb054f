// Cosmos DB for NoSQL: the account (serverless by default, keys off), the database and every
// container the code declares, and data-plane access for the app's identity. Containers are created
// here only: the app's identity has no control-plane rights (COSMOS_BOOTSTRAP is local-only).

@description('Cosmos DB account name: 3-44 lowercase letters, digits and hyphens.')
param accountName string

param location string
param tags object = {}

@description('COSMOS_DATABASE')
param databaseName string

@description('Serverless (pay per request) or provisioned throughput. Cannot be changed on an existing account.')
param serverless bool = true

@description('Provisioned mode only: the database\'s shared autoscale maximum (RU/s).')
@minValue(1000)
param autoscaleMaxThroughput int = 1000

@description('Principal id of the app\'s managed identity (gets the built-in Data Contributor role).')
param dataContributorPrincipalId string

@description('One container of shared/storage/containers.ts.')
type containerSpec = {
  name: string
  @description('Single-path partition key, e.g. /tenantId.')
  partitionKeyPath: string
  @description('Container default TTL in seconds; omit for none.')
  defaultTtl: int?
}

@description('The containers to create: main.bicep passes its cosmosContainers list.')
param containers containerSpec[]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    capabilities: serverless ? [{ name: 'EnableServerless' }] : []
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    options: serverless ? {} : { autoscaleSettings: { maxThroughput: autoscaleMaxThroughput } }
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for container in containers: {
    parent: database
    name: container.name
    properties: {
      resource: union(
        {
          id: container.name
          partitionKey: {
            paths: [container.partitionKeyPath]
            kind: 'Hash'
            version: 2
          }
        },
        container.?defaultTtl == null ? {} : { defaultTtl: container.?defaultTtl }
      )
    }
  }
]

// Built-in "Cosmos DB Built-in Data Contributor": read/write items and read metadata, no
// control plane. Data-plane access is granted with sqlRoleAssignments, not Azure role assignments.
var dataContributorRoleId = '00000000-0000-0000-0000-000000000002'

resource dataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: account
  name: guid(account.id, dataContributorPrincipalId, dataContributorRoleId)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'
    principalId: dataContributorPrincipalId
    scope: account.id
  }
}

output accountName string = account.name
@description('COSMOS_ENDPOINT, e.g. https://<account>.documents.azure.com:443/')
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
