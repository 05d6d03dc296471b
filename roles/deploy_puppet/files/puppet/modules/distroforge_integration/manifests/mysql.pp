# MariaDB from the distribution, listening on loopback only: every service
# of an all-in-one scenario reaches it on 127.0.0.1.
class distroforge_integration::mysql {
  class { 'mysql::server':
    override_options => {
      'mysqld' => {
        'bind-address'    => '127.0.0.1',
        'max_connections' => 256,
      },
    },
    # A root password only matters when the database is reachable from
    # elsewhere; the socket login (unix_socket) is what the node uses.
    remove_default_accounts => true,
    restart                 => true,
  }
}
